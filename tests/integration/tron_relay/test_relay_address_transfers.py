"""ListAddressTransfers over gRPC for real USDT and TRX transfers made on devnet: newest first, paged,
confirmed-only and time-bounded on request, one token (or TRX) only, bad input named by field."""

from __future__ import annotations

import hashlib

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from fixtures.transactions import signed_json
from lucid.tron.v1 import relay_pb2 as pb
from lucid_tron.chain import PrivateKey, encode_call, transfer_contract, trigger_smart_contract

AMOUNTS = (1_000, 2_000, 3_000)


def fresh_address(name: str) -> str:
    return PrivateKey(hashlib.sha256(name.encode()).digest()).address


async def pay(devnet, devnet_http, payer, token: str, merchant: str, amount: int) -> tuple[str, int]:
    """(txid, block time in ms) of a token transfer sealed into its own block."""
    data = encode_call("transfer(address,uint256)", merchant, amount)
    tx = signed_json(devnet, payer.key, trigger_smart_contract(payer.address, token, data), fee_limit_sun=50_000_000)
    answer = await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)
    assert answer.get("result") is True, answer
    block = devnet.produce_block()
    return tx["txID"], devnet.chain.block(block.number, solidified=False).timestamp


@pytest.fixture
async def merchant_history(devnet, devnet_http, devnet_accounts) -> tuple[str, list[tuple[str, int]]]:
    """A merchant paid AMOUNTS in USDT in three blocks, and 700 of the look-alike token."""
    payer, merchant = devnet_accounts[0], fresh_address("merchant with a history")
    paid = [await pay(devnet, devnet_http, payer, devnet.usdt_address, merchant, amount) for amount in AMOUNTS]
    devnet.fund(payer.address, lookalike_units=1_000)
    await pay(devnet, devnet_http, payer, devnet.lookalike_address, merchant, 700)
    return merchant, paid


def history(devnet, merchant: str, **fields) -> pb.ListAddressTransfersRequest:
    return pb.ListAddressTransfersRequest(address=merchant, contract_address=devnet.usdt_address, **fields)


async def test_the_history_is_paged_newest_first_with_only_the_token_asked_for(relay, devnet, merchant_history):
    merchant, paid = merchant_history

    first = await relay.stub.ListAddressTransfers(history(devnet, merchant, page_size=2))
    second = await relay.stub.ListAddressTransfers(
        history(devnet, merchant, page_size=2, page_token=first.next_page_token)
    )

    listed = list(first.transfers) + list(second.transfers)
    assert [(t.txid, t.amount_base_units) for t in listed] == [
        (txid, amount) for (txid, _), amount in reversed(list(zip(paid, AMOUNTS)))
    ]
    assert first.next_page_token and not second.next_page_token
    assert {(t.contract_address, t.to_address) for t in listed} == {(devnet.usdt_address, merchant)}
    assert [t.block_time.ToMilliseconds() for t in listed] == [at for _, at in reversed(paid)]


async def test_only_confirmed_lists_only_solidified_transfers(
    relay, devnet, devnet_http, devnet_accounts, merchant_history
):
    merchant, paid = merchant_history
    devnet.solidify()
    late, _ = await pay(devnet, devnet_http, devnet_accounts[0], devnet.usdt_address, merchant, 4_000)

    everything = await relay.stub.ListAddressTransfers(history(devnet, merchant))
    confirmed = await relay.stub.ListAddressTransfers(history(devnet, merchant, only_confirmed=True))

    assert [t.txid for t in everything.transfers] == [late] + [txid for txid, _ in reversed(paid)]
    assert [t.txid for t in confirmed.transfers] == [txid for txid, _ in reversed(paid)]


async def test_block_time_bounds_limit_the_history(relay, devnet, merchant_history):
    merchant, paid = merchant_history
    (_, first_at), (middle, middle_at), (_, last_at) = paid
    since, until = Timestamp(), Timestamp()
    since.FromMilliseconds(middle_at)
    until.FromMilliseconds(middle_at)

    bounded = history(devnet, merchant, min_block_time=since, max_block_time=until)
    answer = await relay.stub.ListAddressTransfers(bounded)

    assert first_at < middle_at < last_at
    assert [t.txid for t in answer.transfers] == [middle]


async def test_an_empty_contract_lists_the_trx_history_without_token_calls(
    relay, devnet, devnet_http, devnet_accounts, merchant_history
):
    merchant, _ = merchant_history
    payer = devnet_accounts[1]
    sent = []
    for amount in (1_100_000, 2_200_000):
        tx = signed_json(devnet, payer.key, transfer_contract(payer.address, merchant, amount))
        assert (await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)).get("result") is True
        devnet.produce_block()
        sent.append(tx["txID"])

    first = await relay.stub.ListAddressTransfers(pb.ListAddressTransfersRequest(address=merchant, page_size=1))
    second = await relay.stub.ListAddressTransfers(
        pb.ListAddressTransfersRequest(address=merchant, page_size=1, page_token=first.next_page_token)
    )

    listed = list(first.transfers) + list(second.transfers)
    assert [(t.txid, t.amount_base_units, t.contract_address) for t in listed] == [
        (sent[1], 2_200_000, ""), (sent[0], 1_100_000, "")
    ]
    assert {(t.from_address, t.to_address) for t in listed} == {(payer.address, merchant)}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"address": "", "contract_address": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"}, "address"),
        ({"address": fresh_address("a"), "contract_address": "nope"}, "contract_address"),
        ({"page_size": 201}, "page_size"),
        ({"page_size": -1}, "page_size"),
        ({"page_token": "../../wallet"}, "page_token"),
        ({"min_block_time": Timestamp(seconds=-1)}, "min_block_time"),
        ({"min_block_time": Timestamp(seconds=20), "max_block_time": Timestamp(seconds=10)}, "max_block_time"),
    ],
)
async def test_bad_input_is_invalid_argument_naming_the_field(relay, fields, field):
    request = {"address": fresh_address("b"), "contract_address": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", **fields}
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await relay.stub.ListAddressTransfers(pb.ListAddressTransfersRequest(**request))

    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in failure.value.details()


async def test_an_unreachable_trongrid_is_unavailable(relay, devnet):
    devnet.faults.add(status=503)

    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await relay.stub.ListAddressTransfers(history(devnet, fresh_address("c")), timeout=10)

    assert failure.value.code() == grpc.StatusCode.UNAVAILABLE

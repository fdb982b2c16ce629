"""GetBlockTransfers over gRPC for real transfers made on devnet: TRX and USDT with their amounts, USDT moved from
inside another contract, a look-alike token only when asked for, the solidified flag, solidified blocks answered
from the cache, the range cut at the head, block ids, the head view read in one request (receipts only where
logs can be), and bad input named by field."""

from __future__ import annotations

import asyncio
import hashlib

import grpc
import pytest

from fixtures.transactions import requests_to, signed_json
from integration.tron_relay.tron_relay_kit import start_relay
from lucid.tron.v1 import common_pb2
from lucid.tron.v1 import relay_pb2 as pb
from lucid_tron.chain import PrivateKey, encode_call, transfer_contract, trc20_transfer, trigger_smart_contract

FEE_LIMIT = 50_000_000
NOT_FOUND_TTL_S = 0.05
SUCCESS = common_pb2.EXECUTION_RESULT_SUCCESS


@pytest.fixture
async def relay(devnet, relay_redis_url):
    # The solidified head is cached for a block interval; short here so that a test need not wait one.
    async with start_relay(
        devnet, relay_redis_url, not_found_ttl_s=NOT_FOUND_TTL_S, solidified_block_ttl_s=0.05
    ) as running:
        yield running


def fresh_address(name: str) -> str:
    return PrivateKey(hashlib.sha256(name.encode()).digest()).address


async def broadcast(devnet, devnet_http, tx: dict) -> str:
    answer = await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)
    assert answer.get("result") is True, answer
    return tx["txID"]


def call(devnet, account, contract_address: str, data: bytes) -> dict:
    contract = trigger_smart_contract(account.address, contract_address, data)
    return signed_json(devnet, account.key, contract, fee_limit_sun=FEE_LIMIT)


def listing(devnet, first: int, last: int = 0, *contracts: str, include_trx: bool = True, finality: int = 0):
    return pb.GetBlockTransfersRequest(
        first_block_number=first, last_block_number=last,
        contract_addresses=list(contracts or (devnet.usdt_address,)), include_trx=include_trx, finality=finality,
    )  # fmt: skip


async def test_a_trx_and_a_usdt_transfer_are_listed_with_their_amounts(relay, devnet, devnet_http, devnet_accounts):
    payer, merchant = devnet_accounts[0], fresh_address("merchant of trx and usdt")
    trx_transfer = transfer_contract(payer.address, merchant, 1_500_000)
    trx = await broadcast(devnet, devnet_http, signed_json(devnet, payer.key, trx_transfer))
    usdt = await broadcast(devnet, devnet_http, call(devnet, payer, devnet.usdt_address,
                                                     encode_call("transfer(address,uint256)", merchant, 2_345_678)))
    block = devnet.produce_block().number

    answer = await relay.stub.GetBlockTransfers(listing(devnet, max(1, block - 2), block))

    assert {(t.txid, t.log_index) for t in answer.transfers} == {(trx, -1), (usdt, 0)}
    moved = {t.txid: t for t in answer.transfers}
    assert (moved[trx].contract_address, moved[trx].amount_base_units) == ("", 1_500_000)
    assert (moved[usdt].contract_address, moved[usdt].amount_base_units) == (devnet.usdt_address, 2_345_678)
    for transfer in answer.transfers:
        assert (transfer.from_address, transfer.to_address, transfer.block_number) == (payer.address, merchant, block)
        assert transfer.result == SUCCESS and not transfer.solidified
        assert transfer.block_time.ToMilliseconds() > 0
    assert answer.last_block_number == block


async def test_usdt_moved_from_inside_another_contract_is_listed(relay, devnet, devnet_http, devnet_accounts):
    payer, merchant = devnet_accounts[0], fresh_address("merchant behind a forwarder")
    await broadcast(devnet, devnet_http, call(devnet, payer, devnet.usdt_address,
                                              encode_call("approve(address,uint256)", devnet.forwarder_address, 2_500)))
    devnet.produce_block()
    forwarded = await broadcast(devnet, devnet_http, call(
        devnet, payer, devnet.forwarder_address,
        encode_call("forward(address,address,uint256)", devnet.usdt_address, merchant, 2_500),
    ))  # fmt: skip
    block = devnet.produce_block().number

    answer = await relay.stub.GetBlockTransfers(listing(devnet, block, include_trx=False))

    [transfer] = answer.transfers
    assert (transfer.txid, transfer.contract_address) == (forwarded, devnet.usdt_address)
    assert (transfer.from_address, transfer.to_address, transfer.amount_base_units) == (payer.address, merchant, 2_500)


async def test_a_lookalike_token_transfer_is_listed_only_when_its_contract_is_asked_for(
    relay, devnet, devnet_http, devnet_accounts
):
    payer, merchant = devnet_accounts[0], fresh_address("merchant of a lookalike")
    devnet.fund(payer.address, lookalike_units=1_000)
    fake = await broadcast(devnet, devnet_http, call(devnet, payer, devnet.lookalike_address,
                                                     encode_call("transfer(address,uint256)", merchant, 700)))
    block = devnet.produce_block().number

    usdt_only = await relay.stub.GetBlockTransfers(listing(devnet, block))
    asked = await relay.stub.GetBlockTransfers(listing(devnet, block, 0, devnet.lookalike_address))

    assert list(usdt_only.transfers) == []
    assert [(t.txid, t.contract_address, t.amount_base_units) for t in asked.transfers] == [
        (fake, devnet.lookalike_address, 700)
    ]


async def test_a_transfer_is_marked_solidified_once_its_block_is(relay, devnet, devnet_http, devnet_accounts):
    payer, merchant = devnet_accounts[0], fresh_address("merchant waiting for solidification")
    trx_transfer = transfer_contract(payer.address, merchant, 1_000_000)
    await broadcast(devnet, devnet_http, signed_json(devnet, payer.key, trx_transfer))
    block = devnet.produce_block().number

    early = await relay.stub.GetBlockTransfers(listing(devnet, block))
    devnet.solidify()
    await asyncio.sleep(0.1)  # the cached solidified head runs out
    final = await relay.stub.GetBlockTransfers(listing(devnet, block))

    assert [t.solidified for t in early.transfers] == [False] and early.solidified_block_number < block
    assert [t.solidified for t in final.transfers] == [True] and final.solidified_block_number >= block


async def test_a_solidified_block_is_answered_a_second_time_without_trongrid(
    relay, devnet, devnet_http, devnet_accounts
):
    payer, merchant = devnet_accounts[0], fresh_address("merchant of a cached block")
    await broadcast(devnet, devnet_http, call(devnet, payer, devnet.usdt_address,
                                              encode_call("transfer(address,uint256)", merchant, 42)))
    block = devnet.produce_block().number
    devnet.solidify()
    first = await relay.stub.GetBlockTransfers(listing(devnet, block))
    receipts = requests_to(devnet, "/walletsolidity/gettransactioninfobyblocknum")
    blocks = requests_to(devnet, "/walletsolidity/getblockbynum")

    again = await relay.stub.GetBlockTransfers(listing(devnet, block))

    assert (receipts.matched, blocks.matched) == (0, 0)
    assert list(again.transfers) == list(first.transfers) and again.transfers[0].solidified
    assert not first.cache.from_cache


async def test_every_block_read_is_answered_with_its_id_and_its_parent_id(relay, devnet, devnet_http, devnet_accounts):
    payer, merchant = devnet_accounts[0], fresh_address("merchant of a block with an id")
    devnet.produce_block()
    await broadcast(devnet, devnet_http, signed_json(devnet, payer.key, transfer_contract(payer.address, merchant, 7)))
    block = devnet.produce_block().number
    devnet.produce_block()

    answer = await relay.stub.GetBlockTransfers(listing(devnet, block - 1, block + 1))

    assert [header.number for header in answer.blocks] == [block - 1, block, block + 1]
    ids = {header.number: header.block_id for header in answer.blocks}
    assert [header.parent_block_id for header in answer.blocks[1:]] == [ids[block - 1], ids[block]]
    assert ids[block] == devnet.chain.blocks[block].id.hex()
    assert [t.block_id for t in answer.transfers] == [ids[block]]


async def test_at_head_a_range_is_one_request_and_receipts_are_read_only_for_blocks_with_contract_calls(
    relay, devnet, devnet_http, devnet_accounts
):
    payer, merchant = devnet_accounts[0], fresh_address("merchant read at head")
    trx_only = devnet.produce_block().number + 1
    await broadcast(devnet, devnet_http, signed_json(devnet, payer.key, transfer_contract(payer.address, merchant, 9)))
    assert devnet.produce_block().number == trx_only
    usdt = await broadcast(devnet, devnet_http, call(devnet, payer, devnet.usdt_address,
                                                     encode_call("transfer(address,uint256)", merchant, 11)))
    with_call = devnet.produce_block().number
    devnet.produce_block()  # an empty block
    ranges, bodies = requests_to(devnet, "/wallet/getblockbylimitnext"), requests_to(devnet, "/wallet/getblockbynum")
    receipts = requests_to(devnet, "/wallet/gettransactioninfobyblocknum")
    solidified = requests_to(devnet, "/walletsolidity/")

    at_head = listing(devnet, trx_only, with_call + 5, finality=common_pb2.FINALITY_HEAD)
    answer = await relay.stub.GetBlockTransfers(at_head)

    assert (ranges.matched, bodies.matched, receipts.matched, solidified.matched) == (1, 0, 1, 0)
    assert [header.number for header in answer.blocks] == [trx_only, with_call, with_call + 1]
    assert [(t.block_number, t.log_index) for t in answer.transfers] == [(trx_only, -1), (with_call, 0)]
    assert answer.transfers[1].txid == usdt and not answer.transfers[1].solidified
    assert (answer.last_block_number, answer.solidified_block_number) == (with_call + 1, 0)


async def test_a_range_past_the_head_stops_at_the_head(relay, devnet):
    head = devnet.produce_block().number

    answer = await relay.stub.GetBlockTransfers(listing(devnet, max(1, head - 1), head + 5))
    beyond = await relay.stub.GetBlockTransfers(listing(devnet, head + 3, head + 5))

    assert answer.last_block_number == head
    assert (list(beyond.transfers), beyond.last_block_number) == ([], head + 2)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"first_block_number": 0}, "first_block_number"),
        ({"first_block_number": -5}, "first_block_number"),
        ({"first_block_number": 10, "last_block_number": 9}, "last_block_number"),
        ({"first_block_number": 1, "last_block_number": 101}, "last_block_number"),
        ({"first_block_number": 1, "contract_addresses": ["not an address"]}, "contract_addresses[0]"),
        ({"first_block_number": 1, "contract_addresses": ["TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"] * 2},
         "contract_addresses"),
        ({"first_block_number": 1, "contract_addresses": [fresh_address(str(i)) for i in range(11)]},
         "contract_addresses"),
        ({"first_block_number": 1, "include_trx": False}, "contract_addresses"),
    ],
)
async def test_bad_input_is_invalid_argument_naming_the_field(relay, fields, field):
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await relay.stub.GetBlockTransfers(pb.GetBlockTransfersRequest(**fields))

    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in failure.value.details()


async def test_an_unreachable_trongrid_with_nothing_cached_is_unavailable(relay, devnet):
    head = devnet.produce_block().number
    devnet.faults.add(paths=("/wallet/getblockbynum", "/wallet/gettransactioninfobyblocknum"), status=503)

    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await relay.stub.GetBlockTransfers(listing(devnet, head), timeout=10)

    assert failure.value.code() == grpc.StatusCode.UNAVAILABLE

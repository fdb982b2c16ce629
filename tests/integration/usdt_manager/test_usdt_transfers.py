"""Transfer and GetTransfer on devnet: a transfer lands once, with SUCCESS and the USDT contract's Transfer log, whatever
the contract returns; a retry never sends a second transaction; every refusal sends nothing."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import grpc
import pytest
from pymongo import AsyncMongoClient
from tronpy import AsyncTron

from fixtures.rpc_errors import error_reason, field_violations
from integration.usdt_manager.usdt_kit import SENDER_USDT, UsdtStack, fresh_address, usdt_stack
from lucid.tron.v1 import usdt_pb2
from lucid_tron.chain import TRANSFER_EVENT_TOPIC, protocol

S = usdt_pb2


async def status(stack: UsdtStack, txid: str) -> usdt_pb2.UsdtTransfer:
    return (await stack.stub.GetTransfer(S.GetTransferRequest(txid=txid))).transfer


async def refused(call, request) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call(request)
    return raised.value


async def test_a_transfer_lands_with_success_and_the_transfer_log_although_usdt_returns_false(
    stack: UsdtStack, tron: AsyncTron
) -> None:
    holder = stack.activated_address("holder", usdt=1)

    sent = (await stack.stub.Transfer(stack.transfer_request(holder, 2_500_000))).transfer
    landed = stack.settle()
    confirmed = await status(stack, sent.txid)

    assert sent.state == S.TRANSFER_STATE_BROADCAST
    assert landed == (sent.txid,)
    assert confirmed.state == S.TRANSFER_STATE_CONFIRMED
    info = await tron.get_transaction_info(sent.txid)
    assert info["receipt"]["result"] == "SUCCESS"
    assert info["contractResult"] == ["0" * 64]  # mainnet USDT's `transfer` returns false
    [log] = info["log"]
    assert log["topics"][0] == TRANSFER_EVENT_TOPIC.hex()
    assert (confirmed.block_number, confirmed.fee_sun) == (info["blockNumber"], info["fee"])
    usdt = await tron.get_contract(stack.devnet.usdt_address)
    assert await usdt.functions.balanceOf(holder) == 2_500_001
    assert await usdt.functions.balanceOf(stack.sender) == SENDER_USDT - 2_500_000


async def test_a_transfer_in_an_unsolidified_block_is_included_not_confirmed(stack: UsdtStack) -> None:
    sent = (await stack.stub.Transfer(stack.transfer_request(stack.activated_address(usdt=1), 1_000_000))).transfer

    stack.devnet.produce_block()

    included = await status(stack, sent.txid)
    assert included.state == S.TRANSFER_STATE_INCLUDED
    assert included.block_number == stack.devnet.head_number


async def test_a_retry_with_the_same_request_id_sends_nothing_new(stack: UsdtStack, tron: AsyncTron) -> None:
    holder = stack.activated_address(usdt=1)
    request = stack.transfer_request(holder, 3_000_000)

    first = (await stack.stub.Transfer(request)).transfer
    stack.devnet.produce_block()
    again = (await stack.stub.Transfer(request)).transfer
    later = stack.settle()

    assert again == first
    assert later == ()
    assert (await status(stack, first.txid)).state == S.TRANSFER_STATE_CONFIRMED
    usdt = await tron.get_contract(stack.devnet.usdt_address)
    assert await usdt.functions.balanceOf(holder) == 3_000_001
    assert stack.devnet.usdt_balance(stack.sender) == SENDER_USDT - 3_000_000


async def test_a_broadcast_that_failed_is_retried_with_the_same_signed_bytes(stack: UsdtStack) -> None:
    holder = stack.activated_address(usdt=1)
    request = stack.transfer_request(holder, 4_000_000)
    stack.devnet.faults.add(status=503, paths=["/wallet/broadcasthex"])

    failed = await refused(stack.stub.Transfer, request)
    nothing = stack.devnet.produce_block().txids
    stack.devnet.faults.clear()
    sent = (await stack.stub.Transfer(request)).transfer
    landed = stack.settle()

    assert failed.code() == grpc.StatusCode.UNAVAILABLE
    assert (nothing, landed) == ((), (sent.txid,))
    assert (await status(stack, sent.txid)).state == S.TRANSFER_STATE_CONFIRMED
    assert stack.devnet.usdt_balance(holder) == 4_000_001
    assert stack.devnet.usdt_balance(stack.sender) == SENDER_USDT - 4_000_000


async def test_the_same_request_id_for_another_transfer_is_refused(stack: UsdtStack) -> None:
    holder = stack.activated_address(usdt=1)
    first = stack.transfer_request(holder, 1_000_000)
    await stack.stub.Transfer(first)

    error = await refused(stack.stub.Transfer, stack.transfer_request(holder, 2_000_000, request_id=first.request_id))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(error) == "IDEMPOTENCY_KEY_REUSED"
    assert "request_id" in field_violations(error)


async def test_an_unactivated_recipient_is_refused_unless_allowed_and_never_activated(stack: UsdtStack) -> None:
    newcomer = fresh_address("newcomer")

    error = await refused(stack.stub.Transfer, stack.transfer_request(newcomer, 1_000_000))
    sent = (await stack.stub.Transfer(
        stack.transfer_request(newcomer, 1_000_000, allow_unactivated_recipient=True)
    )).transfer
    stack.settle()

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(error) == "RECIPIENT_NOT_ACTIVATED"
    assert (await status(stack, sent.txid)).state == S.TRANSFER_STATE_CONFIRMED
    balance = await stack.stub.GetBalance(S.GetBalanceRequest(address=newcomer))
    assert (balance.usdt_balance_base_units, balance.trx_balance_sun, balance.activated) == (1_000_000, 0, False)


async def test_more_than_the_balance_is_refused_and_nothing_is_signed(stack: UsdtStack) -> None:
    error = await refused(
        stack.stub.Transfer, stack.transfer_request(stack.activated_address(usdt=1), SENDER_USDT + 1)
    )

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(error) == "USDT_BALANCE_INSUFFICIENT"
    assert stack.devnet.produce_block().txids == ()


async def test_a_transfer_that_runs_out_of_energy_on_chain_is_failed_with_trons_code(
    start_devnet, mongo_url: str, chain_redis_url: str, tmp_path: Path
) -> None:
    # Mainnet's dynamic energy: estimated in a period at factor 0, executed in the next at 3x, beyond the margin.
    async with start_devnet(block_interval=0, usdt_energy_factors=(0, 20_000), maintenance_period_blocks=1) as chain:
        async with usdt_stack(chain, mongo_url, chain_redis_url, tmp_path) as stack:
            holder = stack.activated_address(usdt=1)
            sent = (await stack.stub.Transfer(stack.transfer_request(holder, 1_000_000))).transfer
            assert stack.settle() == (sent.txid,)

            failed = await status(stack, sent.txid)

    assert failed.state == S.TRANSFER_STATE_FAILED
    assert failed.failure_reason == "OUT_OF_ENERGY"
    assert sent.fee_limit_sun - 100 < failed.fee_sun <= sent.fee_limit_sun  # burned its whole fee limit all the same
    assert chain.usdt_balance(holder) == 1


async def test_get_transfer_of_an_unknown_txid_is_not_found(stack: UsdtStack) -> None:
    error = await refused(stack.stub.GetTransfer, S.GetTransferRequest(txid=uuid.uuid4().hex * 2))
    assert error.code() == grpc.StatusCode.NOT_FOUND


async def test_a_request_id_whose_idempotency_key_was_forgotten_still_never_signs_again(
    stack: UsdtStack, mongo_url: str
) -> None:
    request = stack.transfer_request(stack.activated_address(usdt=1), 1_000_000)
    first = (await stack.stub.Transfer(request)).transfer
    async with AsyncMongoClient(mongo_url) as client:
        # What the TTL index does after 24 h.
        await client[stack.database]["idempotency_keys"].delete_many({})

    again = (await stack.stub.Transfer(request)).transfer
    other = await refused(stack.stub.Transfer, stack.transfer_request(request.to_address, 5, request_id=request.request_id))

    assert again.txid == first.txid
    assert error_reason(other) == "IDEMPOTENCY_KEY_REUSED"
    assert stack.settle() == (first.txid,)


async def test_a_transfer_that_never_landed_is_expired_once_the_solidified_chain_is_past_its_expiration(
    devnet, mongo_url: str, chain_redis_url: str, tmp_path: Path
) -> None:
    async with usdt_stack(devnet, mongo_url, chain_redis_url, tmp_path, transaction_lifetime_s=10) as stack:
        devnet.faults.add(status=503, paths=["/wallet/broadcasthex"])
        request = stack.transfer_request(stack.activated_address(usdt=1), 1_000_000)
        await refused(stack.stub.Transfer, request)
        devnet.faults.clear()
        async with AsyncMongoClient(mongo_url) as client:
            [stored] = await client[stack.database]["transactions"].find({}).to_list()
        txid = stored["_id"]

        pending = await status(stack, txid)
        devnet.chain.produce_block(min_timestamp=stored["expiration_ms"] + 5_000)
        devnet.solidify()
        too_soon = await status(stack, txid)  # past the expiration, but not yet by the margin
        devnet.chain.produce_block(min_timestamp=stored["expiration_ms"] + 60_000)
        devnet.solidify()
        expired = await status(stack, txid)

    assert pending.state == S.TRANSFER_STATE_SIGNED
    assert too_soon.state == S.TRANSFER_STATE_SIGNED
    assert expired.state == S.TRANSFER_STATE_EXPIRED
    assert devnet.usdt_balance(stack.sender) == SENDER_USDT


async def test_identical_transfers_under_different_request_ids_are_distinct_transactions(stack: UsdtStack) -> None:
    # Same sender, recipient and amount, built at once on the same reference block: without care, one txid.
    holder = stack.activated_address(usdt=1)

    sent = await asyncio.gather(*(stack.stub.Transfer(stack.transfer_request(holder, 1_000_000)) for _ in range(6)))
    landed = stack.settle()

    txids = {response.transfer.txid for response in sent}
    assert len(txids) == 6
    assert set(landed) == txids
    assert stack.devnet.usdt_balance(holder) == 6_000_001


async def test_a_retry_whose_stored_transaction_a_node_already_has_counts_it_as_sent(
    stack: UsdtStack, mongo_url: str, devnet_http
) -> None:
    # The first broadcast fails for usdt-manager, yet the signed bytes reach the network another way (a node that
    # took them before the answer was lost): the retry's broadcast answers DUP_TRANSACTION, which is a success.
    holder = stack.activated_address(usdt=1)
    request = stack.transfer_request(holder, 1_000_000)
    stack.devnet.faults.add(status=503, paths=["/wallet/broadcasthex"])
    await refused(stack.stub.Transfer, request)
    stack.devnet.faults.clear()
    async with AsyncMongoClient(mongo_url) as client:
        [stored] = await client[stack.database]["transactions"].find({}).to_list()
    signed = protocol.Transaction(raw_data=protocol.Transaction.raw.FromString(stored["raw_data"]),
                                  signature=[stored["signature"]])
    accepted = await devnet_http.post(stack.devnet, "/wallet/broadcasthex", {"transaction": signed.SerializeToString().hex()})

    sent = (await stack.stub.Transfer(request)).transfer

    assert accepted["result"] is True
    assert (sent.txid, sent.state) == (stored["_id"], S.TRANSFER_STATE_BROADCAST)
    assert stack.settle() == (sent.txid,)
    assert stack.devnet.usdt_balance(holder) == 1_000_001


async def test_concurrent_calls_with_one_request_id_send_one_transaction(stack: UsdtStack) -> None:
    holder = stack.activated_address(usdt=1)
    request = stack.transfer_request(holder, 2_000_000)

    outcomes = await asyncio.gather(*(stack.stub.Transfer(request) for _ in range(5)), return_exceptions=True)

    sent = {outcome.transfer.txid for outcome in outcomes if isinstance(outcome, usdt_pb2.TransferResponse)}
    others = [outcome for outcome in outcomes if not isinstance(outcome, usdt_pb2.TransferResponse)]
    assert len(sent) == 1
    assert all(
        isinstance(other, grpc.aio.AioRpcError) and other.code() == grpc.StatusCode.ABORTED
        and error_reason(other) == "REQUEST_IN_FLIGHT"
        for other in others
    )
    assert stack.settle() == tuple(sent)
    assert stack.devnet.usdt_balance(holder) == 2_000_001

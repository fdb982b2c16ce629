"""Batches: many payouts under one approval. Created idempotently and within the limits as a whole (the batch's total
per asset, atomically: all its payouts or none), approved or rejected as a whole by a second operator (four eyes and
etag as for one payout), and then each payout executed on its own, exactly once."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import grpc
import pytest

from fixtures.rpc_errors import error_reason, field_violations
from integration.payout_router.approval_kit import ALICE, BOB, alice_and_bob, router, stub
from integration.payout_router.payout_kit import (
    CONFIRMED,
    TRX,
    USDT,
    payout_stack,
    recipient,
    tronpy_client,
    usdt_balance,
)
from lucid.tron.v1 import payout_router_pb2 as pr
from lucid_tron.devnet import Devnet

ONE_USDT = 1_000_000


def batch_request(amounts: list[int], *, asset: int = USDT, request_id: str | None = None,
                  to: list[str] | None = None) -> pr.CreatePayoutBatchRequest:
    recipients = to or [recipient() for _ in amounts]
    return pr.CreatePayoutBatchRequest(
        request_id=request_id or str(uuid.uuid4()),
        batch=pr.PayoutBatch(reference="operator earnings 2026-11", payouts=[
            pr.Payout(recipient=address, asset=asset, amount_base_units=amount)
            for address, amount in zip(recipients, amounts)
        ]),
    )


def _usdt_daily_used(limits: pr.GetLimitsResponse) -> int:
    (usdt,) = [entry for entry in limits.limits if entry.asset == USDT and not entry.caller_role]
    return usdt.daily_used_base_units


async def test_a_batch_under_the_threshold_is_paid_exactly_once_per_payout(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    to = [recipient() for _ in range(3)]
    async with payout_stack(mongo_url, redis_url, tmp_path, chain) as stack:
        request = batch_request([ONE_USDT, 2 * ONE_USDT, 3 * ONE_USDT], to=to)
        created = (await stack.stub.CreatePayoutBatch(request)).batch
        done = [await stack.wait_for(payout.payout_id, CONFIRMED) for payout in created.payouts]
        again = (await stack.stub.CreatePayoutBatch(request)).batch
        async with tronpy_client(chain) as tron:
            paid = [await usdt_balance(tron, chain, address) for address in to]
    assert created.state == pr.PAYOUT_BATCH_STATE_APPROVED and not created.approval_required
    assert [payout.state for payout in created.payouts] == [pr.PAYOUT_STATE_APPROVED] * 3
    assert {payout.batch_id for payout in done} == {created.batch_id}
    assert paid == [ONE_USDT, 2 * ONE_USDT, 3 * ONE_USDT]
    assert all(len(payout.attempts) == 1 for payout in done)
    assert [payout.payout_id for payout in again.payouts] == [payout.payout_id for payout in created.payouts]
    assert list(created.totals) == [pr.PayoutBatchTotal(asset=USDT, amount_base_units=6 * ONE_USDT, payout_count=3)]


async def test_small_payouts_whose_total_is_above_the_threshold_wait_for_an_approver(mongo_url, redis_url, operators):
    pki, files = operators
    async with router(mongo_url, redis_url, pki) as address:
        channel, alice = stub(address, files[ALICE])
        async with channel:
            created = (await alice.CreatePayoutBatch(batch_request([ONE_USDT, ONE_USDT]))).batch
    assert created.approval_required
    assert created.state == pr.PAYOUT_BATCH_STATE_AWAITING_APPROVAL
    assert [payout.state for payout in created.payouts] == [pr.PAYOUT_STATE_AWAITING_APPROVAL] * 2
    assert created.creator == ALICE


async def test_approving_the_batch_approves_every_payout_in_it(mongo_url, redis_url, operators):
    pki, files = operators
    async with router(mongo_url, redis_url, pki) as address:
        async with alice_and_bob(address, files) as (alice, bob):
            created = (await alice.CreatePayoutBatch(batch_request([2 * ONE_USDT] * 3))).batch
            approved = (await bob.ApprovePayoutBatch(
                pr.ApprovePayoutBatchRequest(batch_id=created.batch_id, etag=created.etag))).batch
            fetched = (await bob.GetPayoutBatch(pr.GetPayoutBatchRequest(batch_id=created.batch_id))).batch
    assert approved.state == pr.PAYOUT_BATCH_STATE_APPROVED and approved.approver == BOB
    assert [(payout.state, payout.approver) for payout in fetched.payouts] == [(pr.PAYOUT_STATE_APPROVED, BOB)] * 3
    assert approved.etag != created.etag


async def test_the_creator_cannot_approve_their_own_batch(mongo_url, redis_url, operators):
    pki, files = operators
    async with router(mongo_url, redis_url, pki) as address:
        channel, alice = stub(address, files[ALICE])
        async with channel:
            created = (await alice.CreatePayoutBatch(batch_request([2 * ONE_USDT]))).batch
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await alice.ApprovePayoutBatch(pr.ApprovePayoutBatchRequest(batch_id=created.batch_id,
                                                                            etag=created.etag))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_reason(refused.value) == "SELF_APPROVAL"


async def test_a_payout_of_a_batch_is_not_approved_alone(mongo_url, redis_url, operators):
    pki, files = operators
    async with router(mongo_url, redis_url, pki) as address:
        async with alice_and_bob(address, files) as (alice, bob):
            created = (await alice.CreatePayoutBatch(batch_request([2 * ONE_USDT]))).batch
            (payout,) = created.payouts
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await bob.ApprovePayout(pr.ApprovePayoutRequest(payout_id=payout.payout_id, etag=payout.etag))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(refused.value) == "IN_BATCH"


async def test_batch_approval_with_a_stale_etag_is_aborted(mongo_url, redis_url, operators):
    pki, files = operators
    async with router(mongo_url, redis_url, pki) as address:
        async with alice_and_bob(address, files) as (alice, bob):
            created = (await alice.CreatePayoutBatch(batch_request([2 * ONE_USDT]))).batch
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await bob.ApprovePayoutBatch(pr.ApprovePayoutBatchRequest(batch_id=created.batch_id, etag="0" * 16))
    assert refused.value.code() == grpc.StatusCode.ABORTED
    assert error_reason(refused.value) == "ETAG_MISMATCH"


async def test_a_rejected_batch_rejects_its_payouts_and_gives_their_limits_back(mongo_url, redis_url, operators):
    pki, files = operators
    async with router(mongo_url, redis_url, pki) as address:
        async with alice_and_bob(address, files) as (alice, bob):
            created = (await alice.CreatePayoutBatch(batch_request([2 * ONE_USDT, 3 * ONE_USDT]))).batch
            rejected = (await bob.RejectPayoutBatch(pr.RejectPayoutBatchRequest(
                batch_id=created.batch_id, etag=created.etag, reason="not this month"))).batch
            limits = await bob.GetLimits(pr.GetLimitsRequest())
    assert rejected.state == pr.PAYOUT_BATCH_STATE_REJECTED and rejected.state_reason == "not this month"
    assert [payout.state for payout in rejected.payouts] == [pr.PAYOUT_STATE_REJECTED] * 2
    assert _usdt_daily_used(limits) == 0


async def test_a_batch_beyond_the_limit_is_refused_whole(mongo_url, redis_url, tmp_path: Path, chain: Devnet):
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, payout_wallet_id="",
                            circuit_breaker_hourly_limit=5) as stack:
        await stack.create(amount=2 * ONE_USDT)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stack.stub.CreatePayoutBatch(batch_request([ONE_USDT, ONE_USDT, 2 * ONE_USDT]))
        listed = await stack.stub.ListPayouts(pr.ListPayoutsRequest())
        batches = await stack.stub.ListPayoutBatches(pr.ListPayoutBatchesRequest())
        limits = await stack.stub.GetLimits(pr.GetLimitsRequest())
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_reason(refused.value) == "HOURLY_LIMIT"
    assert len(listed.payouts) == 1 and not batches.batches
    assert _usdt_daily_used(limits) == 2 * ONE_USDT


async def test_a_batch_in_two_assets_counts_each_total_in_its_own_limits(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, payout_wallet_id="") as stack:
        request = batch_request([ONE_USDT, 2 * ONE_USDT])
        request.batch.payouts[1].asset = TRX
        created = (await stack.stub.CreatePayoutBatch(request)).batch
        limits = {entry.asset: entry.daily_used_base_units
                  for entry in (await stack.stub.GetLimits(pr.GetLimitsRequest())).limits if not entry.caller_role}
    assert limits == {USDT: ONE_USDT, TRX: 2 * ONE_USDT}
    assert [(total.asset, total.amount_base_units) for total in created.totals] == [(TRX, 2 * ONE_USDT),
                                                                                     (USDT, ONE_USDT)]


async def test_a_reused_batch_request_id_with_another_body_is_refused(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, payout_wallet_id="") as stack:
        await stack.stub.CreatePayoutBatch(batch_request([ONE_USDT], request_id="batch-2026-11"))
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stack.stub.CreatePayoutBatch(batch_request([2 * ONE_USDT], request_id="batch-2026-11"))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(refused.value) == "IDEMPOTENCY_KEY_REUSED"


async def test_every_bad_payout_of_a_batch_is_named(mongo_url, redis_url, tmp_path: Path, chain: Devnet):
    request = batch_request([ONE_USDT, 0, -5, ONE_USDT])
    request.batch.payouts[0].recipient = "T-not-an-address"
    request.batch.payouts[3].asset = 0
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, payout_wallet_id="") as stack:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stack.stub.CreatePayoutBatch(request)
        with pytest.raises(grpc.aio.AioRpcError) as empty:
            await stack.stub.CreatePayoutBatch(batch_request([]))
        with pytest.raises(grpc.aio.AioRpcError) as too_many:
            await stack.stub.CreatePayoutBatch(batch_request([ONE_USDT] * 101))
    assert set(field_violations(refused.value)) == {
        "batch.payouts[0].recipient", "batch.payouts[1].amount_base_units", "batch.payouts[2].amount_base_units",
        "batch.payouts[3].asset",
    }
    assert set(field_violations(empty.value)) == {"batch.payouts"}
    assert set(field_violations(too_many.value)) == {"batch.payouts"}


async def test_batches_are_listed_newest_first_page_by_page(mongo_url, redis_url, tmp_path: Path, chain: Devnet):
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, payout_wallet_id="") as stack:
        created = [(await stack.stub.CreatePayoutBatch(batch_request([ONE_USDT]))).batch for _ in range(3)]
        first = await stack.stub.ListPayoutBatches(pr.ListPayoutBatchesRequest(page_size=2))
        second = await stack.stub.ListPayoutBatches(
            pr.ListPayoutBatchesRequest(page_size=2, page_token=first.next_page_token))
        in_batch = await stack.stub.ListPayouts(pr.ListPayoutsRequest(batch_id=created[0].batch_id))
    listed = [batch.batch_id for batch in (*first.batches, *second.batches)]
    assert listed == [batch.batch_id for batch in reversed(created)]
    assert not second.next_page_token
    assert all(not batch.payouts and batch.payout_count == 1 for batch in first.batches)
    assert [payout.payout_id for payout in in_batch.payouts] == [created[0].payouts[0].payout_id]


async def test_an_unknown_or_malformed_batch_id_is_not_found_or_invalid(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, payout_wallet_id="") as stack:
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await stack.stub.GetPayoutBatch(pr.GetPayoutBatchRequest(batch_id="pb_" + "0" * 24))
        with pytest.raises(grpc.aio.AioRpcError) as malformed:
            await stack.stub.GetPayoutBatch(pr.GetPayoutBatchRequest(batch_id="po_" + "0" * 24))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    assert set(field_violations(malformed.value)) == {"batch_id"}


async def test_parallel_batches_beyond_the_daily_limit_never_overshoot_it(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    async def one(stub) -> object:
        try:
            return (await stub.CreatePayoutBatch(batch_request([ONE_USDT] * 3))).batch
        except grpc.aio.AioRpcError as error:
            return error

    async with payout_stack(mongo_url, redis_url, tmp_path, chain, payout_wallet_id="",
                            circuit_breaker_daily_limit=10) as stack:
        results = await asyncio.gather(*(one(stack.stub) for _ in range(8)))
        limits = await stack.stub.GetLimits(pr.GetLimitsRequest())
        listed = await stack.stub.ListPayouts(pr.ListPayoutsRequest())
    created = [result for result in results if isinstance(result, pr.PayoutBatch)]
    refused = [result for result in results if isinstance(result, grpc.aio.AioRpcError)]
    assert len(created) == 3
    assert {error.code() for error in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert _usdt_daily_used(limits) == 9 * ONE_USDT
    assert len(listed.payouts) == 9

"""The money circuit breaker: hourly and daily totals per asset counted atomically in MongoDB, the allowlist, and
GetLimits / GetBreaker reporting use and headroom. No payout wallet is configured here: nothing is signed, so the
windows hold exactly what was created."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import grpc
import pytest

from fixtures.rpc_errors import error_reason, quota_violation
from integration.payout_router.approval_kit import alice_and_bob, router
from integration.payout_router.payout_kit import USDT, payout_stack, recipient
from lucid.tron.v1 import payout_router_pb2 as pr
from lucid.tron.v1 import payout_router_pb2_grpc
from lucid_tron.devnet import Devnet
from lucid_tron.mesh import serving
from lucid_tron.services.payout_router.__main__ import build

ONE_USDT = 1_000_000


async def _create_many(stack, count: int, amount: int, *, batch: str = "a", during=None) -> list[object]:
    async def one(index: int):
        try:
            return await stack.create(amount=amount, request_id=f"parallel-{batch}-{index}")
        except grpc.aio.AioRpcError as error:
            return error

    tasks = [asyncio.create_task(one(index)) for index in range(count)]
    if during is not None:
        await during()
    return list(await asyncio.gather(*tasks))


def _usdt(limits: pr.GetLimitsResponse) -> pr.AssetLimits:
    (usdt,) = [entry for entry in limits.limits if entry.asset == USDT]
    return usdt


async def test_parallel_creates_beyond_the_daily_limit_never_overshoot_it(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, payout_wallet_id="",
                            circuit_breaker_daily_limit=10) as stack:
        results = await _create_many(stack, 25, ONE_USDT)
        limits = await stack.stub.GetLimits(pr.GetLimitsRequest())
    created = [result for result in results if isinstance(result, pr.Payout)]
    refused = [result for result in results if isinstance(result, grpc.aio.AioRpcError)]
    assert len(created) == 10
    assert {error.code() for error in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert _usdt(limits).daily_used_base_units == 10 * ONE_USDT
    assert _usdt(limits).daily_headroom_base_units == 0


async def test_flushing_redis_in_the_middle_changes_nothing(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet, redis_client
):
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, payout_wallet_id="",
                            circuit_breaker_hourly_limit=7) as stack:
        first = await _create_many(stack, 5, ONE_USDT)
        await redis_client.flushall()
        second = await _create_many(stack, 5, ONE_USDT, batch="b", during=redis_client.flushall)
        limits = await stack.stub.GetLimits(pr.GetLimitsRequest())
    created = [result for result in (*first, *second) if isinstance(result, pr.Payout)]
    assert len({payout.payout_id for payout in created}) == 7
    assert _usdt(limits).hourly_used_base_units == 7 * ONE_USDT


async def test_a_used_up_window_reads_as_the_breaker_open_by_limit(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, payout_wallet_id="",
                            circuit_breaker_hourly_limit=2) as stack:
        await stack.create(amount=2 * ONE_USDT)
        breaker = (await stack.stub.GetBreaker(pr.GetBreakerRequest())).breaker
    assert breaker.state == pr.BREAKER_STATE_OPEN
    assert breaker.cause == pr.BREAKER_CAUSE_LIMIT
    assert breaker.next_probe_time.seconds > 0


async def test_the_seed_figures_are_the_default_limits(mongo_url, redis_url, tmp_path: Path, chain: Devnet):
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, payout_wallet_id="") as stack:
        limits = await stack.stub.GetLimits(pr.GetLimitsRequest())
        breaker = (await stack.stub.GetBreaker(pr.GetBreakerRequest())).breaker
    assert _usdt(limits).hourly_limit_base_units == 1_000 * ONE_USDT
    assert _usdt(limits).daily_limit_base_units == 10_000 * ONE_USDT
    assert (breaker.state, breaker.failure_threshold, breaker.half_open_max_calls) == (pr.BREAKER_STATE_CLOSED, 5, 3)


async def test_with_the_allowlist_on_only_listed_recipients_are_paid(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    listed, unlisted = recipient(), recipient()
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, payout_wallet_id="",
                            payout_allowlist_enabled=True) as stack:
        await stack.stub.AddAllowedRecipient(pr.AddAllowedRecipientRequest(
            recipient=pr.AllowedRecipient(address=listed, label="node operator 1")))
        await stack.create(amount=ONE_USDT, to=listed)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stack.create(amount=ONE_USDT, to=unlisted)
        page = await stack.stub.ListAllowedRecipients(pr.ListAllowedRecipientsRequest())
        await stack.stub.RemoveAllowedRecipient(pr.RemoveAllowedRecipientRequest(address=listed))
        with pytest.raises(grpc.aio.AioRpcError) as removed:
            await stack.create(amount=ONE_USDT, to=listed)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "allowlist" in refused.value.details()
    assert [entry.address for entry in page.recipients] == [listed]
    assert removed.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_an_operator_opens_the_breaker_and_approved_payouts_are_held(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    async with payout_stack(mongo_url, redis_url, tmp_path, chain) as stack:
        opened = await stack.stub.SetBreaker(pr.SetBreakerRequest(state=pr.BREAKER_STATE_OPEN, reason="audit"))
        created = await stack.create(amount=ONE_USDT)
        held = await stack.wait_for(created.payout_id, pr.PAYOUT_STATE_HELD, timeout_s=30)
        await stack.stub.SetBreaker(pr.SetBreakerRequest(state=pr.BREAKER_STATE_CLOSED, reason="audit done"))
        await stack.wait_for(created.payout_id, pr.PAYOUT_STATE_CONFIRMED)
    assert (opened.breaker.state, opened.breaker.cause) == (pr.BREAKER_STATE_OPEN, pr.BREAKER_CAUSE_OPERATOR)
    assert not held.attempts


async def test_two_replicas_creating_in_parallel_never_overshoot_the_limit(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, payout_wallet_id="",
                            circuit_breaker_daily_limit=8) as stack:
        settings = stack.router_settings()
        async with serving(build(settings), settings) as replica, grpc.aio.insecure_channel(replica.address) as channel:
            other = payout_router_pb2_grpc.PayoutRouterServiceStub(channel)

            async def one(stub, index: int):
                try:
                    return (await stub.CreatePayout(pr.CreatePayoutRequest(
                        request_id=f"replicas-{index}",
                        payout=pr.Payout(recipient=recipient(), asset=USDT, amount_base_units=ONE_USDT),
                    ))).payout
                except grpc.aio.AioRpcError as error:
                    return error

            results = await asyncio.gather(*(one(stack.stub if index % 2 else other, index) for index in range(16)))
        limits = await stack.stub.GetLimits(pr.GetLimitsRequest())
    assert sum(isinstance(result, pr.Payout) for result in results) == 8
    assert {result.code() for result in results if not isinstance(result, pr.Payout)} == {
        grpc.StatusCode.RESOURCE_EXHAUSTED
    }
    assert _usdt(limits).daily_used_base_units == 8 * ONE_USDT


async def test_payouts_are_listed_newest_first_page_by_page_and_filtered(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    to = recipient()
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, payout_wallet_id="") as stack:
        created = [await stack.create(amount=ONE_USDT, to=to) for _ in range(5)]
        other = await stack.create(amount=ONE_USDT)
        await stack.stub.CancelPayout(pr.CancelPayoutRequest(payout_id=created[0].payout_id))
        pages, token = [], ""
        while True:
            page = await stack.stub.ListPayouts(pr.ListPayoutsRequest(recipient=to, page_size=2, page_token=token))
            pages.append([payout.payout_id for payout in page.payouts])
            token = page.next_page_token
            if not token:
                break
        cancelled = await stack.stub.ListPayouts(pr.ListPayoutsRequest(states=[pr.PAYOUT_STATE_CANCELLED]))
    assert [len(page) for page in pages] == [2, 2, 1]
    listed = [payout_id for page in pages for payout_id in page]
    assert listed == [payout.payout_id for payout in reversed(created)]
    assert other.payout_id not in listed
    assert [payout.payout_id for payout in cancelled.payouts] == [created[0].payout_id]


async def test_a_caller_role_is_held_to_its_own_limits_within_the_overall_ones(mongo_url, redis_url, operators):
    pki, files = operators
    async with router(mongo_url, redis_url, pki, payout_role_limits="operator:USDT:3000000:3000000") as address:
        async with alice_and_bob(address, files) as (alice, bob):
            first = (await alice.CreatePayout(_request(2 * ONE_USDT))).payout
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await bob.CreatePayout(_request(2 * ONE_USDT))
            limits = (await bob.GetLimits(pr.GetLimitsRequest())).limits
    usdt = {entry.caller_role: entry for entry in limits if entry.asset == USDT}
    assert first.caller_role == "operator"
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_reason(refused.value) == "HOURLY_LIMIT"
    assert "role=operator" in quota_violation(refused.value).subject
    assert set(usdt) == {"", "operator"}
    assert (usdt["operator"].hourly_limit_base_units, usdt["operator"].hourly_headroom_base_units) == (
        3 * ONE_USDT, ONE_USDT)
    assert usdt[""].hourly_used_base_units == usdt["operator"].hourly_used_base_units == 2 * ONE_USDT


async def test_other_roles_keep_creating_while_one_roles_limit_is_used_up(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    # Plaintext: these callers have no identity, so their role is "unauthenticated"; operators' limit is not theirs.
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, payout_wallet_id="",
                            payout_role_limits="operator:USDT:0:0") as stack:
        created = await stack.create(amount=ONE_USDT)
        limits = (await stack.stub.GetLimits(pr.GetLimitsRequest())).limits
    assert created.caller_role == "unauthenticated"
    assert [(entry.caller_role, entry.hourly_used_base_units) for entry in limits if entry.asset == USDT] == [
        ("", ONE_USDT), ("operator", 0)]


def _request(amount: int) -> pr.CreatePayoutRequest:
    return pr.CreatePayoutRequest(request_id=str(uuid.uuid4()),
                                  payout=pr.Payout(recipient=recipient(), asset=USDT, amount_base_units=amount))

"""The fault breaker: consecutive broadcast or on-chain failures open it, and approved payouts are then held."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from integration.payout_router.payout_kit import PAYOUT_WALLET_TRX_SUN, TRX, payout_stack
from lucid.tron.v1 import payout_router_pb2 as pr
from lucid_tron.devnet import Devnet


async def test_consecutive_failures_open_the_breaker_and_later_payouts_are_held(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, circuit_breaker_failure_threshold=2,
                            circuit_breaker_recovery_timeout=3600, payout_expiration_s=3.0,
                            trx_hourly_limit_sun=10**12, trx_daily_limit_sun=10**12,
                            approval_threshold_trx_sun=10**12) as stack:
        # More TRX than the payout wallet holds: every transfer fails (refused by the node, or on chain).
        for _ in range(2):
            await stack.create(amount=2 * PAYOUT_WALLET_TRX_SUN, asset=TRX)
        deadline = time.monotonic() + 90
        while True:
            breaker = (await stack.stub.GetBreaker(pr.GetBreakerRequest())).breaker
            if breaker.state == pr.BREAKER_STATE_OPEN:
                break
            assert time.monotonic() < deadline, breaker
            await asyncio.sleep(0.25)
        later = await stack.create(amount=1_000_000)
        held = await stack.wait_for(later.payout_id, pr.PAYOUT_STATE_HELD, timeout_s=30)
    assert breaker.cause == pr.BREAKER_CAUSE_FAULT
    assert breaker.failure_count >= 2
    assert breaker.next_probe_time.seconds > time.time() + 3000
    assert not held.attempts


async def test_after_the_recovery_time_a_probe_succeeds_and_closes_the_breaker(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, circuit_breaker_failure_threshold=1,
                            circuit_breaker_recovery_timeout=20, payout_expiration_s=3.0,
                            trx_hourly_limit_sun=10**12, trx_daily_limit_sun=10**12,
                            approval_threshold_trx_sun=10**12) as stack:
        too_large = await stack.create(amount=2 * PAYOUT_WALLET_TRX_SUN, asset=TRX)
        # Refused, the attempt expires unsent; the open breaker then holds the payout instead of signing again.
        await stack.wait_for(too_large.payout_id, pr.PAYOUT_STATE_HELD)
        # The wallet can pay now: the probe after the recovery time lands and closes the breaker.
        chain.fund(stack.payer, trx_sun=4 * PAYOUT_WALLET_TRX_SUN)
        done = await stack.wait_for(too_large.payout_id, pr.PAYOUT_STATE_CONFIRMED)
        breaker = (await stack.stub.GetBreaker(pr.GetBreakerRequest())).breaker
    assert breaker.state == pr.BREAKER_STATE_CLOSED
    assert breaker.failure_count == 0
    assert [attempt.state for attempt in done.attempts] == [pr.ATTEMPT_STATE_EXPIRED, pr.ATTEMPT_STATE_CONFIRMED]

"""Exactly once through crashes: the executor's worker process is killed with SIGKILL ~20 times at random moments and
restarted; at the end every payout is confirmed once and the chain moved exactly the sum of the payouts, read with
unmodified tronpy: each recipient holds its payout, and the payout wallet lost the USDT paid and the TRX paid plus
the fees of the confirmed transactions, to the base unit."""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.payout_router.crash_kit import ledger, payer_balances, run_crashes
from integration.payout_router.payout_kit import payout_stack
from lucid_tron.devnet import Devnet


@pytest.mark.timeout(240)
async def test_payouts_through_twenty_kills_are_each_paid_exactly_once(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    # The in-process router only takes the payouts (no payout wallet: its executor idles); the killed workers pay.
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, payout_wallet_id="") as stack:
        before = await payer_balances(stack)
        stack.settings = stack.router_settings(payout_wallet_id=stack.wallet_id)
        run = await run_crashes(stack, tmp_path / "workers.log", payouts=12, kills=20)
        result = await ledger(stack, run, before)
    assert run.kills == 20
    assert result.checks == dict.fromkeys(result.checks, True)

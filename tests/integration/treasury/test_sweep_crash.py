"""Exactly once through crashes: the sweeper's worker process is killed with SIGKILL 15 times at random moments and
restarted; at the end every paid invoice is swept once, nothing is left at a deposit address or lent, and the payout
wallet gained exactly the sum paid, read with unmodified tronpy. (`python -m bench.sweep_crash` kills it 100+ times.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.treasury.crash_kit import ledger, run_crashes
from integration.treasury.treasury_kit import treasury_stack, trx_of, usdt_of


@pytest.mark.timeout(600)
async def test_sweeps_through_fifteen_kills_move_each_invoice_once_and_leave_nothing_behind(
    mongo_url, redis_url, tmp_path: Path
):
    # The in-process staking serves the API only (no staking wallet: its sweeper idles); the killed workers sweep.
    async with treasury_stack(mongo_url, redis_url, tmp_path, staking_wallet_id="") as stack:
        stack.settings = stack.staking_settings(staking_wallet_id=stack.wallets["staking"])
        before = (await usdt_of(stack.chain, stack.addresses["payout"]),
                  await trx_of(stack.chain, stack.addresses["payout"]))
        paid = await stack.pay_invoices(usdt=[3_000_000 + 1_013 * i for i in range(8)],
                                        trx=[2_000_000 + 7_001 * i for i in range(4)])
        run = await run_crashes(stack, tmp_path / "workers.log", invoices=len(paid), kills=15)
        checks = await ledger(stack, paid, before)
    assert run.kills == 15
    assert checks == dict.fromkeys(checks, True)

"""Exactly once through crashes: the executor's worker process is killed with SIGKILL ~20 times at random moments and
restarted; at the end every payout is confirmed once and the chain moved exactly the sum of the payouts, read with
unmodified tronpy: each recipient holds its payout, and the payout wallet lost the USDT paid and the TRX paid plus
the fees of the confirmed transactions, to the base unit."""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.payout_router.crash_kit import run_crashes
from integration.payout_router.payout_kit import payout_stack, tronpy_client, usdt_balance
from lucid.tron.v1 import payout_router_pb2 as pr
from lucid_tron.chain import SUN_PER_TRX
from lucid_tron.devnet import Devnet


async def _trx(tron, address: str) -> int:
    return int(await tron.get_account_balance(address) * SUN_PER_TRX)


@pytest.mark.timeout(240)
async def test_payouts_through_twenty_kills_are_each_paid_exactly_once(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    # The in-process router only takes the payouts (no payout wallet: its executor idles); the killed workers pay.
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, payout_wallet_id="") as stack:
        async with tronpy_client(chain) as tron:
            payer_before = (await usdt_balance(tron, chain, stack.payer), await _trx(tron, stack.payer))
        stack.settings = stack.router_settings(payout_wallet_id=stack.wallet_id)
        run = await run_crashes(stack, payouts=12, kills=20)
        finals = [await stack.get(payout_id) for payout_id in run.payouts]
        async with tronpy_client(chain) as tron:
            received = {
                payout_id: await usdt_balance(tron, chain, to) if asset == "USDT" else await _trx(tron, to)
                for payout_id, (asset, to, _) in run.payouts.items()
            }
            payer_after = (await usdt_balance(tron, chain, stack.payer), await _trx(tron, stack.payer))
    paid = {asset: sum(amount for kind, _, amount in run.payouts.values() if kind == asset) for asset in ("USDT", "TRX")}
    fees = sum(payout.fee_sun for payout in finals)
    assert run.kills == 20
    assert [payout.state for payout in finals] == [pr.PAYOUT_STATE_CONFIRMED] * len(finals)
    assert all([attempt.state for attempt in payout.attempts].count(pr.ATTEMPT_STATE_CONFIRMED) == 1
               for payout in finals)
    assert received == {payout_id: amount for payout_id, (_, _, amount) in run.payouts.items()}
    assert payer_before[0] - payer_after[0] == paid["USDT"]
    assert payer_before[1] - payer_after[1] == paid["TRX"] + fees

"""The proof of the treasury on devnet (USDT's dynamic energy factor changing every 40 blocks): 50 invoices paid by
unmodified tronpy are each swept exactly once, the payout wallet ends with their sum to the base unit, and lending
energy costs at least 80% less TRX than burning TRX for it, activation included, measured in the same run."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from integration.treasury.treasury_kit import SWEPT, USDT, burned_sun, treasury_stack, trx_of, usdt_of

USDT_INVOICES = [1_000_000 + 37_411 * index for index in range(40)]
TRX_INVOICES = [2_000_000 + 123_457 * index for index in range(10)]
BURN_INVOICES = [5_000_000 + 1_001 * index for index in range(5)]


def txids(sweeps) -> list[str]:
    return [step.txid for sweep in sweeps for step in sweep.steps]


@pytest.mark.timeout(900)
async def test_fifty_paid_invoices_are_swept_once_each_into_the_payout_wallet_for_far_less_trx_than_burning(
    mongo_url, redis_url, tmp_path: Path
):
    async with treasury_stack(mongo_url, redis_url, tmp_path / "lend") as stack:
        payout_trx_before = await trx_of(stack.chain, stack.addresses["payout"])
        paid = await stack.pay_invoices(usdt=USDT_INVOICES, trx=TRX_INVOICES)
        sweeps = await stack.wait_swept(len(paid), timeout_s=600)
        payout_usdt = await usdt_of(stack.chain, stack.addresses["payout"])
        payout_trx = await trx_of(stack.chain, stack.addresses["payout"])
        left_usdt = [await usdt_of(stack.chain, invoice.deposit_address) for invoice in paid if invoice.asset == USDT]
        lent_burned = await burned_sun(stack.chain, txids(s for s in sweeps if s.asset == USDT))

        # The baseline on the same chain: another treasury that burns TRX for the energy instead of borrowing it.
        async with treasury_stack(mongo_url, redis_url, tmp_path / "burn", chain=stack.chain,
                                  sweep_energy_strategy="burn", sweep_energy_margin_bps=2_000) as burning:
            await burning.pay_invoices(usdt=BURN_INVOICES)
            burn_sweeps = await burning.wait_swept(len(BURN_INVOICES), timeout_s=300)
            burn_burned = await burned_sun(stack.chain, txids(burn_sweeps))

    assert Counter(sweep.invoice_id for sweep in sweeps) == Counter(invoice.invoice_id for invoice in paid)
    assert all(sweep.state == SWEPT for sweep in [*sweeps, *burn_sweeps])
    assert {sweep.invoice_id: sweep.amount_base_units for sweep in sweeps} == {
        invoice.invoice_id: invoice.amount for invoice in paid}
    assert payout_usdt == sum(USDT_INVOICES) and left_usdt == [0] * len(USDT_INVOICES)
    assert payout_trx - payout_trx_before == sum(TRX_INVOICES)
    # What the records say each sweep burned is what the chain says.
    assert sum(sweep.fee_sun for sweep in sweeps if sweep.asset == USDT) == lent_burned
    per_sweep_lent = lent_burned / len(USDT_INVOICES)
    per_sweep_burnt = burn_burned / len(BURN_INVOICES)
    saving = 1 - per_sweep_lent / per_sweep_burnt
    print(f"\nTRX burned per USDT sweep: {per_sweep_lent / 1e6:.3f} lending energy, {per_sweep_burnt / 1e6:.3f} "
          f"burning for it: {saving:.1%} less")
    assert saving >= 0.80

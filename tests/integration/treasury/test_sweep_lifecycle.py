"""One sweep of each kind on devnet, followed step by step: a USDT deposit address (never activated) is activated,
lent energy, sends its USDT and gives the energy back; a TRX deposit address sends its TRX; the records trace each
invoice's funds from payment to the payout wallet."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from integration.payment_gateway.watcher_kit import chain_bench
from integration.treasury.treasury_kit import (
    DYNAMIC_ENERGY,
    SWEPT,
    TRX,
    USDT,
    node_proxy,
    treasury_stack,
    trx_of,
    usdt_of,
)
from lucid.tron.v1 import treasury_pb2 as tr

KIND = tr.SweepStepKind.Name


@pytest.mark.timeout(300)
async def test_a_usdt_and_a_trx_invoice_are_each_swept_once_into_the_payout_wallet(
    mongo_url, redis_url, tmp_path: Path
):
    async with treasury_stack(mongo_url, redis_url, tmp_path) as stack:
        [usdt, trx] = await stack.pay_invoices(usdt=[12_500_000], trx=[3_000_000])
        sweeps = await stack.wait_swept(2)
        by_invoice = {sweep.invoice_id: sweep for sweep in sweeps}
        payout_usdt = await usdt_of(stack.chain, stack.addresses["payout"])
        deposit_usdt = await usdt_of(stack.chain, usdt.deposit_address)
        deposit_trx = await trx_of(stack.chain, trx.deposit_address)

    swept_usdt, swept_trx = by_invoice[usdt.invoice_id], by_invoice[trx.invoice_id]
    assert [s.state for s in sweeps] == [SWEPT, SWEPT]
    assert (swept_usdt.asset, swept_usdt.amount_base_units, swept_usdt.deposit_address) == (
        USDT, 12_500_000, usdt.deposit_address)
    assert [KIND(step.kind) for step in swept_usdt.steps if step.state == tr.SWEEP_STEP_STATE_CONFIRMED] == [
        "SWEEP_STEP_KIND_ACTIVATE", "SWEEP_STEP_KIND_DELEGATE", "SWEEP_STEP_KIND_TRANSFER",
        "SWEEP_STEP_KIND_UNDELEGATE",
    ]
    assert [KIND(step.kind) for step in swept_trx.steps] == ["SWEEP_STEP_KIND_TRANSFER"]
    assert (swept_trx.asset, swept_trx.amount_base_units) == (TRX, 3_000_000)
    assert payout_usdt == 12_500_000 and deposit_usdt == 0 and deposit_trx == 0
    # Only the activation burns TRX (its create-account fee); the transfer's energy was lent, its bytes free.
    assert swept_usdt.fee_sun == 1_000_000 and swept_trx.fee_sun == 0


def halve_estimates(path: str, answer: dict) -> dict:
    """A node whose estimateenergy answers half the energy the transfer then uses, as mainnet's estimate does when the
    dynamic energy factor rises between the estimate and the block (a proxy in front of devnet plays it)."""
    if path.endswith("/estimateenergy") and "energy_required" in answer:
        return {**answer, "energy_required": answer["energy_required"] // 2}
    return answer


@pytest.mark.timeout(300)
async def test_a_transfer_that_runs_out_of_energy_is_retried_with_more_and_the_invoice_is_still_swept_once(
    mongo_url, redis_url, tmp_path: Path
):
    async with chain_bench(redis_url, **DYNAMIC_ENERGY) as chain, node_proxy(
        chain.devnet.url, halve_estimates
    ) as (url, _), treasury_stack(
        mongo_url, redis_url, tmp_path, chain=chain, trongrid_url=url, sweep_energy_margin_bps=0
    ) as stack:
        [usdt] = await stack.pay_invoices(usdt=[4_000_000])
        [sweep] = await stack.wait_swept(1)
        payout_usdt = await usdt_of(stack.chain, stack.addresses["payout"])

    transfers = [step for step in sweep.steps if step.kind == tr.SWEEP_STEP_KIND_TRANSFER]
    lent = [step.amount_base_units for step in sweep.steps
            if step.kind == tr.SWEEP_STEP_KIND_DELEGATE and step.state == tr.SWEEP_STEP_STATE_CONFIRMED]
    returned = [step.amount_base_units for step in sweep.steps
                if step.kind == tr.SWEEP_STEP_KIND_UNDELEGATE and step.state == tr.SWEEP_STEP_STATE_CONFIRMED]
    assert sweep.state == SWEPT and payout_usdt == 4_000_000
    assert transfers[0].state == tr.SWEEP_STEP_STATE_FAILED and "OUT_OF_ENERGY" in transfers[0].result
    assert [step.state for step in transfers].count(tr.SWEEP_STEP_STATE_CONFIRMED) == 1
    assert transfers[-1].energy >= 2 * transfers[0].energy
    assert len(lent) >= 2 and sum(lent) == sum(returned)


@pytest.mark.timeout(300)
async def test_sweeps_are_listed_newest_first_page_by_page_and_filtered(mongo_url, redis_url, tmp_path: Path):
    async with treasury_stack(mongo_url, redis_url, tmp_path) as stack:
        paid = await stack.pay_invoices(usdt=[1_500_000, 2_500_000], trx=[4_000_000])
        everything = await stack.wait_swept(3)
        assert stack.stub is not None
        pages, token = [], ""
        while True:
            page = await stack.stub.ListSweeps(tr.ListSweepsRequest(page_size=1, page_token=token))
            pages.append([sweep.sweep_id for sweep in page.sweeps])
            token = page.next_page_token
            if not token:
                break
        usdt = await stack.sweeps(asset=USDT)
        by_address = await stack.sweeps(deposit_address=paid[2].deposit_address)
        failed = await stack.sweeps(state=tr.SWEEP_STATE_FAILED)
        treasury = (await stack.stub.GetTreasury(tr.GetTreasuryRequest())).treasury

    newest_first = sorted(everything, key=lambda s: (s.create_time.ToNanoseconds(), s.sweep_id), reverse=True)
    assert pages == [[sweep.sweep_id] for sweep in newest_first]
    assert sorted(s.amount_base_units for s in usdt) == [1_500_000, 2_500_000]
    assert [(s.invoice_id, s.asset) for s in by_address] == [(paid[2].invoice_id, TRX)]
    assert failed == []
    totals = {t.asset: (t.swept_base_units, t.swept_count, t.pending_count) for t in treasury.totals}
    assert totals == {USDT: (4_000_000, 2, 0), TRX: (4_000_000, 1, 0)}
    assert treasury.payout_address == stack.addresses["payout"] and treasury.HasField("next_run_time")


@pytest.mark.timeout(300)
async def test_sweeps_under_way_go_on_while_payment_gateway_is_down(mongo_url, redis_url, tmp_path: Path):
    # The sweeper looks for paid invoices every second (FAST): during the outage every look fails.
    async with treasury_stack(mongo_url, redis_url, tmp_path) as stack:
        paid = await stack.pay_invoices(usdt=[1_100_000, 2_200_000])
        while len(await stack.sweeps()) < 2:
            await asyncio.sleep(0.05)
        await stack.gateway_server.shutdown()
        sweeps = await stack.wait_swept(2)
        payout_usdt = await usdt_of(stack.chain, stack.addresses["payout"])

    assert [sweep.state for sweep in sweeps] == [SWEPT, SWEPT] and payout_usdt == sum(p.amount for p in paid)

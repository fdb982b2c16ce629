"""`lucid-tron treasury`: an operator sweeps now, reads the totals and the history, and follows one invoice's funds
through every step of its sweep, against a real staking process on devnet (plaintext: --address alone)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from integration.treasury.treasury_kit import treasury_stack
from lucid_tron.cli._main import build_parser
from lucid_tron.cli._treasury import run_treasury


async def cli(address: str, *argv: str) -> tuple[int, str]:
    action, *rest = argv
    args = build_parser().parse_args(["treasury", action, "--address", address, *rest])
    out = io.StringIO()
    status = await asyncio.to_thread(run_treasury, args, out=out)
    return status, out.getvalue()


@pytest.mark.timeout(300)
async def test_an_operator_sweeps_now_and_traces_an_invoice_from_payment_to_sweep(
    mongo_url, redis_url, tmp_path: Path
):
    # Scheduled runs a day apart: only `treasury sweep` starts the sweep.
    async with treasury_stack(mongo_url, redis_url, tmp_path, sweep_interval_s=86_400) as stack:
        [invoice] = await stack.pay_invoices(usdt=[7_250_000])
        address = stack.staking_server
        started = await cli(address, "sweep", "--request-id", "sweep-now-1")
        replayed = await cli(address, "sweep", "--request-id", "sweep-now-1")
        reused = await cli(address, "sweep", "--request-id", "sweep-now-1", "--all")
        await stack.wait_swept(1)
        history = await cli(address, "history", "--invoice", invoice.invoice_id)
        sweep_id = history[1].splitlines()[1].split()[0]
        shown = await cli(address, "show", sweep_id)
        status = await cli(address, "status")
        again = await cli(address, "sweep")
        unknown = await cli(address, "show", "swp_" + "0" * 24)

    assert started[0] == 0 and started[1].startswith("1 sweeps started")
    assert replayed == started  # the same request_id answers the first run's answer, and starts nothing more
    assert reused[0] == 1
    assert history[0] == 0 and "SWEPT" in history[1] and invoice.deposit_address in history[1]
    assert shown[0] == 0 and invoice.invoice_id in shown[1] and "7.25 USDT" in shown[1]
    assert [line.split()[0] for line in shown[1].split("\n\n")[1].splitlines()[1:]] == [
        "ACTIVATE", "DELEGATE", "TRANSFER", "UNDELEGATE"]
    assert status[0] == 0 and stack.addresses["payout"] in status[1]
    assert [line.split()[:3] for line in status[1].splitlines() if line.startswith("USDT")] == [
        ["USDT", "7.25", "1"]]
    assert again == (0, "0 sweeps started\n")
    assert unknown[0] == 1


"""The crash test of the sweeper: sweeps run by a worker process that is killed with SIGKILL at random moments
(before a step is signed, after it is stored, after its broadcast, before a receipt is written: wherever the kill
lands) and restarted, until every sweep is final. Then the chain, read with unmodified tronpy, must show each paid
invoice swept exactly once and nothing left behind: no funds at a deposit address, no energy still lent.

Used by tests/integration/treasury/test_sweep_crash.py (a bounded run) and `python -m bench.sweep_crash`.
A worker killed inside a fenced transaction leaves it open; the next one ends it when it takes the lease over
(lucid_tron.storage.Leases), as a restarted staking process does.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from integration.payout_router.crash_kit import kill_and_restart
from integration.treasury.treasury_kit import USDT, Paid, TreasuryStack, trx_of, usdt_of
from lucid.tron.v1 import treasury_pb2 as tr

WORKER = Path(__file__).with_name("sweeper_worker.py")
#: Quick lease turnover so a restarted worker takes over within a second of the lease.
CRASH_SETTINGS = {"sweeper_lease_s": 1.0, "sweeper_round_s": 0.1, "sweep_expiration_s": 10.0}
FINAL = (tr.SWEEP_STATE_SWEPT, tr.SWEEP_STATE_FAILED)


@dataclass
class CrashRun:
    kills: int = 0
    seconds: float = 0.0


async def _start_worker(stack: TreasuryStack, log: Path) -> asyncio.subprocess.Process:
    settings = {name: getattr(stack.settings, name) for name in stack.settings.__dataclass_fields__}
    settings = {name: value for name, value in settings.items() if isinstance(value, (str, int, float, bool))}
    settings.update(CRASH_SETTINGS)
    env = {**os.environ, "SWEEPER_WORKER_SETTINGS": json.dumps(settings)}
    with log.open("ab") as stderr:
        return await asyncio.create_subprocess_exec(
            sys.executable, str(WORKER), env=env, stdout=asyncio.subprocess.PIPE, stderr=stderr
        )


async def _all_final(stack: TreasuryStack, count: int) -> bool:
    sweeps = await stack.sweeps()
    return len(sweeps) >= count and all(sweep.state in FINAL for sweep in sweeps)


async def run_crashes(stack: TreasuryStack, log: Path, *, invoices: int, kills: int, seed: int = 1,
                      timeout_s: float = 600.0) -> CrashRun:
    """Run the worker over the paid invoices, killing it `kills` times at random moments 0.2..1.5 s after it is
    ready, and let a last worker finish every sweep (one that exits by itself is started again)."""
    draw = random.Random(seed)
    run = CrashRun()
    started = time.monotonic()
    run.kills = await kill_and_restart(
        lambda: _start_worker(stack, log), lambda: _all_final(stack, invoices), kills=kills, draw=draw,
        started=started, timeout_s=timeout_s, what="sweeps", log=log,
    )
    run.seconds = time.monotonic() - started
    return run


async def ledger(stack: TreasuryStack, paid: list[Paid], payout_before: tuple[int, int]) -> dict[str, bool]:
    """The checks: one sweep per invoice, each SWEPT by one confirmed transfer; every deposit address empty; the
    payout wallet gained exactly the sum paid (USDT and TRX); every delegation taken back. Read with tronpy."""
    sweeps = await stack.sweeps()
    chain = stack.chain
    left = [await (usdt_of if invoice.asset == USDT else trx_of)(chain, invoice.deposit_address) for invoice in paid]
    payout_after = (await usdt_of(chain, stack.addresses["payout"]), await trx_of(chain, stack.addresses["payout"]))
    lent = (await chain.tron.get_account(stack.addresses["staking"]))["account_resource"].get(
        "delegated_frozenV2_balance_for_energy", 0)
    confirmed_transfers = [
        sum(1 for step in sweep.steps
            if step.kind == tr.SWEEP_STEP_KIND_TRANSFER and step.state == tr.SWEEP_STEP_STATE_CONFIRMED)
        for sweep in sweeps
    ]
    paid_usdt = sum(invoice.amount for invoice in paid if invoice.asset == USDT)
    paid_trx = sum(invoice.amount for invoice in paid if invoice.asset != USDT)
    return {
        "one_sweep_per_invoice": Counter(s.invoice_id for s in sweeps) == Counter(i.invoice_id for i in paid),
        "all_swept": all(sweep.state == tr.SWEEP_STATE_SWEPT for sweep in sweeps),
        "one_confirmed_transfer_each": confirmed_transfers == [1] * len(sweeps),
        "deposits_empty": left == [0] * len(paid),
        "payout_usdt_matches": payout_after[0] - payout_before[0] == paid_usdt,
        "payout_trx_matches": payout_after[1] - payout_before[1] == paid_trx,
        "no_energy_still_lent": lent == 0,
    }

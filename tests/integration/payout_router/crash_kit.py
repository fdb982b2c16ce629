"""The crash test of the payout executor: payouts executed by a worker process that is killed with SIGKILL at random
moments (before signing, after signing, after broadcast, before a status write: wherever the kill lands) and
restarted, until every payout is final. Then the chain must show each payout exactly once.

Used by tests/integration/payout_router/test_payout_crash.py (a bounded run) and `python -m bench.payout_crash`.

A worker killed inside a transaction leaves the documents it wrote locked until the server aborts the transaction
(mongod: after transactionLifetimeLimitSeconds, 60 s; SecantusDB: only when a later transaction statement reaches it).
Nothing here ends them: the next worker does, before it takes the lease (PayoutRouterStore.end_abandoned).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from integration.payout_router.payout_kit import TRX, USDT, PayoutStack, recipient, tronpy_client, usdt_balance
from lucid.tron.v1 import payout_router_pb2 as pr
from lucid_tron.chain import SUN_PER_TRX

WORKER = Path(__file__).with_name("executor_worker.py")
#: Quick lease turnover so a restarted worker takes over within a second of the lease.
CRASH_SETTINGS = {"payout_executor_lease_s": 1.0, "payout_executor_interval_s": 0.1, "payout_expiration_s": 10.0}


@dataclass
class CrashRun:
    kills: int = 0
    payouts: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # id -> (asset, recipient, amount)
    seconds: float = 0.0


async def _start_worker(stack: PayoutStack, log: Path) -> asyncio.subprocess.Process:
    settings = {name: getattr(stack.settings, name) for name in stack.settings.__dataclass_fields__}
    settings = {name: value for name, value in settings.items() if isinstance(value, (str, int, float, bool))}
    settings.update(CRASH_SETTINGS)
    env = {**os.environ, "PAYOUT_WORKER_SETTINGS": json.dumps(settings)}
    with log.open("ab") as stderr:
        return await asyncio.create_subprocess_exec(
            sys.executable, str(WORKER), env=env, stdout=asyncio.subprocess.PIPE, stderr=stderr
        )


async def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGKILL)
    await process.wait()


async def kill_and_restart(
    start_worker: Callable[[], Awaitable[asyncio.subprocess.Process]], all_final: Callable[[], Awaitable[bool]], *,
    kills: int, draw: random.Random, started: float, timeout_s: float, what: str, log: Path,
) -> int:
    """Start a worker (it prints a line when ready) and kill it `kills` times at random moments 0.2..1.5 s after it
    is ready, then let a last worker run until `all_final()` (one that exits by itself is started again); the kills
    made. Also the treasury's crash test (tests/integration/treasury/crash_kit.py)."""
    killed = 0
    while True:
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"{what} not final after {timeout_s} s and {killed} kills (workers' log: {log})")
        worker = await start_worker()
        try:
            assert worker.stdout is not None
            await asyncio.wait_for(worker.stdout.readline(), 30)
            if killed < kills:
                await asyncio.sleep(draw.uniform(0.2, 1.5))
                await _kill(worker)
                killed += 1
                continue
            while worker.returncode is None and not await all_final():
                if time.monotonic() - started > timeout_s:
                    break
                await asyncio.sleep(0.5)
            if worker.returncode is None and await all_final():
                return killed
        finally:
            await _kill(worker)


async def run_crashes(stack: PayoutStack, log: Path, *, payouts: int, kills: int, seed: int = 1,
                      timeout_s: float = 600.0) -> CrashRun:
    """Create `payouts` payouts (USDT and TRX, each to a fresh address), then run the worker, killing it `kills`
    times at random moments 0.2..1.5 s after it is ready, and let a last worker finish them all (one that exits by
    itself is started again). The workers' stderr goes to `log`."""
    draw = random.Random(seed)
    run = CrashRun()
    started = time.monotonic()
    for index in range(payouts):
        asset = USDT if index % 3 else TRX
        amount = draw.randint(1, 50) * 100_000
        to = recipient()
        created = await stack.create(amount=amount, asset=asset, to=to, request_id=f"crash-{uuid.uuid4()}")
        run.payouts[created.payout_id] = ("USDT" if asset == USDT else "TRX", to, amount)
    run.kills = await kill_and_restart(
        lambda: _start_worker(stack, log), lambda: _all_final(stack, run), kills=kills, draw=draw, started=started,
        timeout_s=timeout_s, what="payouts", log=log,
    )
    run.seconds = time.monotonic() - started
    return run


async def _all_final(stack: PayoutStack, run: CrashRun) -> bool:
    for payout_id in run.payouts:
        payout = await stack.get(payout_id)
        if payout.state not in (pr.PAYOUT_STATE_CONFIRMED, pr.PAYOUT_STATE_FAILED):
            return False
    return True


@dataclass
class Ledger:
    """The chain after a crash run, against what the payouts say."""

    checks: dict[str, bool]
    paid: dict[str, int]
    fees_sun: int
    attempts: int


async def payer_balances(stack: PayoutStack) -> tuple[int, int]:
    """(USDT base units, TRX SUN) of the payout wallet, read with tronpy."""
    async with tronpy_client(stack.devnet) as tron:
        return await usdt_balance(tron, stack.devnet, stack.payer), await _trx(tron, stack.payer)


async def ledger(stack: PayoutStack, run: CrashRun, payer_before: tuple[int, int]) -> Ledger:
    """Every payout confirmed by one attempt; each recipient holds exactly its payout; the payout wallet lost exactly
    the USDT paid, and the TRX paid plus the fees of the confirmed transactions: read with unmodified tronpy."""
    finals = [await stack.get(payout_id) for payout_id in run.payouts]
    async with tronpy_client(stack.devnet) as tron:
        received = {
            payout_id: await usdt_balance(tron, stack.devnet, to) if asset == "USDT" else await _trx(tron, to)
            for payout_id, (asset, to, _) in run.payouts.items()
        }
    payer_after = await payer_balances(stack)
    paid = {
        asset: sum(amount for kind, _, amount in run.payouts.values() if kind == asset) for asset in ("USDT", "TRX")
    }
    fees = sum(payout.fee_sun for payout in finals)
    checks = {
        "all_confirmed": all(payout.state == pr.PAYOUT_STATE_CONFIRMED for payout in finals),
        "one_confirmed_attempt_each": all(
            [attempt.state for attempt in payout.attempts].count(pr.ATTEMPT_STATE_CONFIRMED) == 1 for payout in finals
        ),
        "each_recipient_paid_once": received == {pid: amount for pid, (_, _, amount) in run.payouts.items()},
        "payer_usdt_matches": payer_before[0] - payer_after[0] == paid["USDT"],
        "payer_trx_matches": payer_before[1] - payer_after[1] == paid["TRX"] + fees,
    }
    return Ledger(checks, paid, fees, sum(len(payout.attempts) for payout in finals))


async def _trx(tron: Any, address: str) -> int:
    return int(await tron.get_account_balance(address) * SUN_PER_TRX)

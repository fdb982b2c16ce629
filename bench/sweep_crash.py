"""The sweeper's full crash run: `python -m bench.sweep_crash --kills 120` (from the repository root).

Paid invoices on a devnet (blocks every 0.3 s, USDT's dynamic energy factor changing every 40 blocks) are swept by a
worker process that is killed with SIGKILL `--kills` times at random moments and restarted; then the chain is read
with unmodified tronpy: every paid invoice must be swept exactly once (one sweep, one confirmed transfer), every
deposit address must be empty, the payout wallet must have gained exactly the sum paid, and no energy may still be
lent. Prints one JSON line; exit 1 when a check fails. The workers' stderr goes to `--log`.

The harness is tests/integration/treasury/crash_kit.py, the one the bounded test in the suite uses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from integration.treasury.crash_kit import ledger, run_crashes  # noqa: E402
from integration.treasury.treasury_kit import treasury_stack, trx_of, usdt_of  # noqa: E402
from lucid_tron.testing import MongoServer, RedisServer  # noqa: E402


async def main(args: argparse.Namespace) -> int:
    with MongoServer() as mongo, RedisServer() as redis, tempfile.TemporaryDirectory() as directory:
        async with treasury_stack(mongo.url, redis.url, Path(directory), staking_wallet_id="") as stack:
            stack.settings = stack.staking_settings(staking_wallet_id=stack.wallets["staking"])
            before = (await usdt_of(stack.chain, stack.addresses["payout"]),
                      await trx_of(stack.chain, stack.addresses["payout"]))
            usdt = args.invoices - args.invoices // 4
            paid = await stack.pay_invoices(usdt=[2_000_000 + 1_013 * i for i in range(usdt)],
                                            trx=[2_000_000 + 7_001 * i for i in range(args.invoices - usdt)])
            run = await run_crashes(stack, args.log, invoices=len(paid), kills=args.kills, seed=args.seed,
                                    timeout_s=args.timeout)
            checks = await ledger(stack, paid, before)
            sweeps = await stack.sweeps()
    print(json.dumps({
        "kills": run.kills,
        "invoices": len(paid),
        "steps": sum(len(sweep.steps) for sweep in sweeps),
        "seconds": round(run.seconds, 1),
        "checks": checks,
    }))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=120)
    parser.add_argument("--invoices", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--log", type=Path, default=Path("sweep_crash_workers.log"), help="the workers' stderr")
    sys.exit(asyncio.run(main(parser.parse_args())))

"""The payout executor's full crash run: `python -m bench.payout_crash --kills 200` (from the repository root).

Payouts on a devnet (blocks every 0.3 s) are executed by a worker process that is killed with SIGKILL `--kills` times
at random moments and restarted; then the chain is read with unmodified tronpy: every payout must be confirmed once,
each recipient must hold exactly its payout, and the payout wallet must have lost exactly the USDT paid and the TRX
paid plus the fees. Prints one JSON line; exit 1 when a check fails. `--read-lag N` serves reads from devnet nodes up
to N blocks behind (a load-balanced TronGrid), `--reorgs` reorganises 3 unsolidified blocks every few seconds.
The workers' stderr goes to `--log` (default payout_crash_workers.log).

The harness is tests/integration/payout_router/crash_kit.py, the one the bounded test in the suite uses.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fixtures.devnet import funded_accounts  # noqa: E402
from integration.payout_router.crash_kit import ledger, payer_balances, run_crashes  # noqa: E402
from integration.payout_router.payout_kit import payout_stack  # noqa: E402
from lucid_tron.devnet import Devnet, DevnetConfig  # noqa: E402
from lucid_tron.testing import MongoServer, RedisServer  # noqa: E402


async def _reorg_now_and_then(devnet: Devnet) -> None:
    while True:
        await asyncio.sleep(4)
        with contextlib.suppress(Exception):
            devnet.reorg(3)


async def main(args: argparse.Namespace) -> int:
    config = DevnetConfig(block_interval=0.3, funded=funded_accounts())
    with MongoServer() as mongo, RedisServer() as redis, tempfile.TemporaryDirectory() as directory:
        async with Devnet(config).serve(host="127.0.0.1", port=0) as devnet:
            if args.read_lag:
                devnet.faults.add(lag_blocks=args.read_lag, rate=0.5)
            reorgs = asyncio.create_task(_reorg_now_and_then(devnet)) if args.reorgs else None
            async with payout_stack(mongo.url, redis.url, Path(directory), devnet, payout_wallet_id="") as stack:
                before = await payer_balances(stack)
                stack.settings = stack.router_settings(payout_wallet_id=stack.wallet_id)
                run = await run_crashes(stack, args.log, payouts=args.payouts, kills=args.kills,
                                        seed=args.seed, timeout_s=args.timeout)
                if reorgs is not None:
                    reorgs.cancel()
                devnet.faults.clear()
                result = await ledger(stack, run, before)
    print(json.dumps({
        "kills": run.kills,
        "payouts": len(run.payouts),
        "attempts": result.attempts,
        "seconds": round(run.seconds, 1),
        "paid_usdt_base_units": result.paid["USDT"],
        "paid_trx_sun": result.paid["TRX"],
        "fees_sun": result.fees_sun,
        "checks": result.checks,
    }))
    return 0 if all(result.checks.values()) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--payouts", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--read-lag", type=int, default=0)
    parser.add_argument("--reorgs", action="store_true")
    parser.add_argument("--log", type=Path, default=Path("payout_crash_workers.log"), help="the workers' stderr")
    sys.exit(asyncio.run(main(parser.parse_args())))

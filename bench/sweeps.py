"""The treasury's sweeps on devnet: `python -m bench.sweeps [--addresses 100]` (from the repository root).

Two treasuries sweep the same number of paid USDT invoices on one devnet (blocks every 0.3 s, solidified 5 behind,
USDT's dynamic energy factor +50% every other 40-block period), in the same run:

- **lend** (the treasury's default): each deposit address is activated by the staking wallet, lent energy, sends its
  USDT with its free bandwidth, and the energy is taken back;
- **burn** (the baseline): the staking wallet sends each deposit address the TRX to burn for the energy.

Reported, lend against burn: TRX burned per sweep (from the receipts, read with unmodified tronpy; activation
included), sweep throughput in addresses per minute (from RunSweep until every sweep is SWEPT, all addresses in one
batch), and the TronGrid requests the whole sweep of `--addresses` addresses needed, per path: tron-client reads devnet
through a counting proxy, so only the treasury's requests are counted (not the payment watcher's, nor tronpy's).
Prints one JSON line; exit 1 when a sweep is not SWEPT or the TRX saving is under 80%.

The stack is tests/integration/treasury/treasury_kit.py, the one the proof test uses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from integration.payment_gateway.watcher_kit import chain_bench  # noqa: E402
from integration.treasury.treasury_kit import (  # noqa: E402
    DYNAMIC_ENERGY,
    SWEPT,
    TreasuryStack,
    burned_sun,
    node_proxy,
    treasury_stack,
)
from lucid.tron.v1 import treasury_pb2 as tr  # noqa: E402
from lucid_tron.testing import MongoServer, RedisServer  # noqa: E402


async def sweep_all(stack: TreasuryStack, counts: Counter[str], addresses: int) -> dict[str, Any]:
    """Pay `addresses` USDT invoices, then sweep them all now; what it cost and took."""
    amounts = [1_000_000 + 1_009 * index for index in range(addresses)]
    await stack.pay_invoices(usdt=amounts)
    assert stack.stub is not None
    counts.clear()
    started = time.monotonic()
    await stack.stub.RunSweep(tr.RunSweepRequest(request_id=str(uuid.uuid4())))
    sweeps = await stack.wait_swept(addresses, timeout_s=1200)
    seconds = time.monotonic() - started
    requests = dict(counts)
    burned = await burned_sun(stack.chain, [step.txid for sweep in sweeps for step in sweep.steps])
    return {
        "swept": sum(1 for sweep in sweeps if sweep.state == SWEPT),
        "seconds": round(seconds, 1),
        "addresses_per_minute": round(addresses / seconds * 60, 1),
        "trx_burned_per_sweep_sun": burned // addresses,
        "trongrid_requests": sum(requests.values()),
        "trongrid_requests_per_path": dict(sorted(requests.items(), key=lambda item: -item[1])),
    }


async def main(args: argparse.Namespace) -> int:
    results: dict[str, Any] = {}
    with MongoServer() as mongo, RedisServer() as redis, tempfile.TemporaryDirectory() as directory:
        async with chain_bench(redis.url, **DYNAMIC_ENERGY) as chain:
            for name, settings in (("lend", {}), ("burn", {"sweep_energy_strategy": "burn",
                                                          "sweep_energy_margin_bps": 2_000})):
                async with node_proxy(chain.devnet.url) as (url, counts):
                    async with treasury_stack(mongo.url, redis.url, Path(directory) / name, chain=chain,
                                              trongrid_url=url, sweep_interval_s=86_400,
                                              sweep_batch_size=args.addresses, **settings) as stack:
                        results[name] = await sweep_all(stack, counts, args.addresses)
    lend, burn = results["lend"], results["burn"]
    saving = 1 - lend["trx_burned_per_sweep_sun"] / burn["trx_burned_per_sweep_sun"]
    print(json.dumps({
        "addresses": args.addresses,
        "trx_burned_per_sweep_sun": {"lend": lend["trx_burned_per_sweep_sun"],
                                     "burn": burn["trx_burned_per_sweep_sun"]},
        "trx_saving": round(saving, 3),
        "addresses_per_minute": {"lend": lend["addresses_per_minute"], "burn": burn["addresses_per_minute"],
                                 "lend_vs_burn": round(lend["addresses_per_minute"] / burn["addresses_per_minute"], 2)},
        "trongrid_requests": {"lend": lend["trongrid_requests"], "burn": burn["trongrid_requests"],
                              "lend_per_address": round(lend["trongrid_requests"] / args.addresses, 1)},
        "trongrid_requests_per_path": {"lend": lend["trongrid_requests_per_path"],
                                       "burn": burn["trongrid_requests_per_path"]},
        "all_swept": lend["swept"] == burn["swept"] == args.addresses,
    }))
    return 0 if lend["swept"] == burn["swept"] == args.addresses and saving >= 0.8 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addresses", type=int, default=100)
    sys.exit(asyncio.run(main(parser.parse_args())))

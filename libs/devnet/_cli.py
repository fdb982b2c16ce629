"""The devnet command: `python -m lucid_tron.devnet` (and `lucid-tron devnet`, which calls `main`).

On start it prints one JSON line to stdout, so a parent process can read where the devnet listens:
{"url": ..., "usdt_address": ..., "chain_id": ..., "genesis_block_id": ..., ...}. It serves until
SIGINT or SIGTERM and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence

from ._config import DevnetConfig, parse_fund_spec
from ._devnet import Devnet
from ._faults import FaultRule

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lucid-tron devnet", description="Serve a TronGrid-compatible TRON devnet (state in memory)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default 0: a free port)")
    parser.add_argument(
        "--block-interval",
        type=float,
        default=3.0,
        help="seconds between blocks; 0 = only on POST /devnet/produce-block",
    )
    parser.add_argument("--solidification-lag", type=int, default=19, help="blocks until a block is solidified")
    parser.add_argument(
        "--fund",
        action="append",
        default=[],
        metavar="ADDRESS:TRX_SUN:USDT_UNITS",
        help="credit an account at genesis (repeatable); amounts in SUN and USDT base units",
    )
    parser.add_argument("--usdt-address", default=None, help="address of the USDT contract (default: from --seed)")
    parser.add_argument("--seed", default="lucid-devnet", help="seed of every deterministic choice")
    parser.add_argument(
        "--unfreeze-delay", type=float, default=60.0, help="seconds before unstaked TRX is withdrawable"
    )
    parser.add_argument(
        "--reorg-drop", action="store_true",
        help="reorgs drop and forget their transactions (default: requeue them, as java-tron does)",
    )
    parser.add_argument(
        "--usdt-energy-factors", type=_factors, default=(), metavar="F[,F...]",
        help="USDT's dynamic energy factor per maintenance period, in 1/10000 (5000 = +50%%), cycling",
    )
    parser.add_argument(
        "--maintenance-blocks", type=int, default=7_200, help="blocks per maintenance period (default 7200: 6 h)"
    )
    parser.add_argument(
        "--read-lag", type=_read_lag, default=None, metavar="BLOCKS[:RATE]",
        help="serve reads from nodes up to BLOCKS behind, for a share RATE of requests (default 1), as a "
             "load-balanced TronGrid does",
    )
    parser.add_argument("--log-level", default="WARNING", help="Python log level (default WARNING)")
    return parser


def _factors(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {text!r}") from None


def _read_lag(text: str) -> FaultRule:
    blocks, _, rate = text.partition(":")
    try:
        return FaultRule(lag_blocks=int(blocks), rate=float(rate) if rate else 1.0)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected BLOCKS[:RATE], got {text!r}: {error}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the devnet command with `argv` (default: sys.argv[1:]); returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    try:
        config = DevnetConfig(
            block_interval=args.block_interval,
            solidification_lag=args.solidification_lag,
            funded=tuple(parse_fund_spec(spec) for spec in args.fund),
            usdt_address=args.usdt_address,
            seed=args.seed,
            unfreeze_delay_s=args.unfreeze_delay,
            reorg_requeue=not args.reorg_drop,
            usdt_energy_factors=args.usdt_energy_factors,
            maintenance_period_blocks=args.maintenance_blocks,
        )
    except ValueError as error:
        print(f"lucid-tron devnet: {error}", file=sys.stderr)
        return 2
    devnet = Devnet(config)
    if args.read_lag is not None:
        devnet.faults.add(args.read_lag)
    asyncio.run(_serve(devnet, args.host, args.port))
    return 0


async def _serve(devnet: Devnet, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with devnet.serve(host=host, port=port):
        print(json.dumps(devnet.info()), flush=True)
        await stop.wait()

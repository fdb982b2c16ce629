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
    parser.add_argument("--log-level", default="WARNING", help="Python log level (default WARNING)")
    return parser


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
        )
    except ValueError as error:
        print(f"lucid-tron devnet: {error}", file=sys.stderr)
        return 2
    asyncio.run(_serve(config, args.host, args.port))
    return 0


async def _serve(config: DevnetConfig, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with Devnet(config).serve(host=host, port=port) as devnet:
        print(json.dumps(devnet.info()), flush=True)
        await stop.wait()

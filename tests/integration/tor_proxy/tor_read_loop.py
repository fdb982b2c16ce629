"""A small TronGrid reader for the fail-closed proof: a TorRuntime and a TronGridClient, reading in a loop.

    python tor_read_loop.py --socks-port P --control-port C --url http://trongrid.test:D [--interval 0.1] [...]

It is what a TronGrid-facing service does, without the service: so a test can run it under strace (or in a namespace)
and see every socket it opens. Each read prints one JSON line to stdout:

    {"t": <monotonic s>, "ok": true, "ms": 23.1, "purpose": "chain-read", "serving": true}
    {"t": ..., "ok": false, "ms": 0.7, "error": "TronGridTorUnavailable", "reason": "TOR_PROXY_UNAVAILABLE", ...}

It stops when its stdin closes, after a last line {"done": true, "stats": {...}}.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import threading
import time

from lucid_tron.errors import LucidError
from lucid_tron.trongrid import BreakerPolicy, CircuitBreaker, RetryPolicy, TronGridClient
from tor_proxy import TorConfig, TorRuntime

# Reads rotate over purposes as a service's would: chain reads, and two wallets' own circuits.
PURPOSES = ("chain-read", "wallet:1", "wallet:2")


def _emit(record: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--socks-port", type=int, required=True)
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--deadline", type=float, default=5.0)
    # TronGridClient's breaker counts Tor failures as TronGrid's and stays open 30 s by default, which would hide
    # how fast reads come back after tor restarts.
    parser.add_argument("--breaker-open-s", type=float, default=1.0)
    args = parser.parse_args()

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    # stdin is read in a thread: its EOF is the signal to stop (the test closes the pipe).
    threading.Thread(target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(stop.set)), daemon=True).start()

    config = TorConfig(
        socks_host="127.0.0.1",
        socks_port=args.socks_port,
        control_port=args.control_port,
        health_check_interval_s=2.0,
        connectivity_timeout_s=args.deadline,
        circuit_rotation_enabled=False,
    )
    async with TorRuntime(config) as tor:
        trongrid = TronGridClient(
            args.url,
            tor.proxy,
            timeout_s=args.deadline,
            retry=RetryPolicy(max_attempts=1),
            breaker=CircuitBreaker(BreakerPolicy(open_s=args.breaker_open_s)),
        )
        n = 0
        while not stop.is_set():
            purpose = PURPOSES[n % len(PURPOSES)]
            n += 1
            started = time.monotonic()
            record: dict[str, object] = {"purpose": purpose}
            try:
                await trongrid.wallet("getnowblock", purpose=purpose, deadline_s=args.deadline)
                record["ok"] = True
            except LucidError as exc:
                record.update(ok=False, error=type(exc).__name__, reason=exc.reason, message=str(exc)[:300])
            record.update(t=started, ms=(time.monotonic() - started) * 1000, serving=tor.monitor.serving)
            _emit(record)
            try:
                async with asyncio.timeout(args.interval):
                    await stop.wait()
            except TimeoutError:
                pass
        _emit({"done": True, "stats": dataclasses.asdict(tor.stats)})


if __name__ == "__main__":
    asyncio.run(main())

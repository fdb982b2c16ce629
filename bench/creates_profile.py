"""Where a CreatePayout and a CreateInvoice spend their time: every MongoDB command by task, kind and transaction, and
the CPU of the calling process by area (the mesh runtime, storage, the service, pymongo, grpc, asyncio).

    python -m bench.creates_profile                  # ~20 s: 50 calls of each, after 20 to warm up
    python -m bench.creates_profile --calls 100 --only payouts

What runs: a SecantusDB and a Redis of its own; payout-router (no payout wallet: nothing is executed), and
payment-gateway with a wallet-manager (an HD payment wallet), each built in this process (`build()` and
`lucid_tron.mesh.serving`, as the integration tests do) so that one pymongo CommandListener sees every command of
every client, and served over loopback gRPC in plaintext. The calls go one at a time (concurrency 1).

A command is filed under the task that sent it: the gRPC handler (the request path), or a background job (the outbox
dispatcher delivering the new events, the watcher, ...), and under `tx` (in a transaction), `rwj` (a retryable
durable write on its own) or `read`. `ms/call` is its time summed per create; the background jobs run concurrently
with the calls, so their commands compete with the request's for SecantusDB (one Python process), and the sum over
all rows can exceed the wall time. The CPU table is cProfile's own time, grouped by source path: cProfile slows
Python code down, so compare areas with each other rather than with the wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import collections
import pstats
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pymongo import monitoring

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the test kits build the services

__all__ = ["main"]

NOBODY = "127.0.0.1:9"
USDT_CONTRACT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
RECIPIENT = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
#: Source-path fragments, in the order they are matched, that group cProfile's rows.
AREAS = ("libs/mesh", "libs/storage", "libs/webhooks", "services/", "pymongo", "grpc", "bson", "asyncio",
         "protobuf", "select")


class Commands(monitoring.CommandListener):
    """Every command's duration by (database, task, command/kind)."""

    def __init__(self) -> None:
        self.durations: dict[tuple[str, str, str], list[int]] = collections.defaultdict(list)
        self._started: dict[int, tuple[str, str]] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        task = asyncio.current_task()
        command = event.command
        kind = "read"
        if "txnNumber" in command:
            kind = "tx" if command.get("autocommit") is False else "rw"
        concern = command.get("writeConcern")
        if concern and concern.get("j"):
            kind += "j"
        self._started[event.request_id] = (task.get_coro().__qualname__ if task else "-", kind)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        task, kind = self._started.pop(event.request_id, ("-", "?"))
        self.durations[(event.database_name, task, f"{event.command_name}/{kind}")].append(event.duration_micros)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        task, kind = self._started.pop(event.request_id, ("-", "?"))
        self.durations[(event.database_name, task, f"{event.command_name}/{kind} FAILED")].append(
            event.duration_micros)


COMMANDS = Commands()
monitoring.register(COMMANDS)


async def _profile(name: str, call: Callable[[], Awaitable[Any]], calls: int) -> str:
    for _ in range(20):
        await call()
    COMMANDS.durations.clear()
    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.enable()
    for _ in range(calls):
        await call()
    profiler.disable()
    wall_ms = (time.perf_counter() - began) / calls * 1000
    lines = [f"{name}: {wall_ms:.2f} ms per call (wall, under cProfile), {calls} calls", "",
             "| database | task | command | per call | ms per call | mean ms |", "|---|---|---|---|---|---|"]
    total = 0.0
    for (database, task, command), durations in sorted(COMMANDS.durations.items(), key=lambda row: -sum(row[1])):
        per_call = sum(durations) / calls / 1000
        total += per_call
        lines.append(f"| {database} | {task} | {command} | {len(durations) / calls:.2f} | {per_call:.2f} | "
                     f"{sum(durations) / len(durations) / 1000:.2f} |")
    lines.append(f"\nMongoDB, all tasks: {total:.2f} ms per call")
    areas: collections.Counter[str] = collections.Counter()
    for (path, _, function), (_, _, own, _, _) in pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
        areas[next((area for area in AREAS if area in path or area in function), "other")] += own
    lines.append("CPU of this process per call (ms, cProfile's own time): " + ", ".join(
        f"{area} {seconds / calls * 1000:.3f}" for area, seconds in areas.most_common()))
    return "\n".join(lines)


async def _payouts(mongo_url: str, redis_url: str, calls: int) -> str:
    import grpc

    from lucid.tron.v1 import common_pb2, payout_router_pb2, payout_router_pb2_grpc
    from lucid_tron.mesh import serving
    from lucid_tron.services.payout_router.__main__ import PayoutRouterSettings, build

    settings = PayoutRouterSettings(
        port=0, insecure_plaintext=True, mongo_url=mongo_url, mongo_database="profile_payouts", redis_url=redis_url,
        tron_client_addr=NOBODY, wallet_manager_addr=NOBODY, usdt_contract=USDT_CONTRACT, payout_wallet_id="",
    )
    async with serving(build(settings), settings) as server, grpc.aio.insecure_channel(server.address) as channel:
        stub = payout_router_pb2_grpc.PayoutRouterServiceStub(channel)
        payout = payout_router_pb2.Payout(recipient=RECIPIENT, asset=common_pb2.ASSET_USDT, amount_base_units=1)
        return await _profile("CreatePayout", lambda: stub.CreatePayout(
            payout_router_pb2.CreatePayoutRequest(request_id=str(uuid.uuid4()), payout=payout)), calls)


async def _invoices(mongo_url: str, redis_url: str, calls: int) -> str:
    from integration.payment_gateway.gateway_kit import create_request, gateway

    with tempfile.TemporaryDirectory(prefix="profile-invoices-") as directory:
        async with gateway(mongo_url, redis_url, Path(directory)) as running:
            return await _profile("CreateInvoice", lambda: running.stub.CreateInvoice(create_request()), calls)


async def _run(args: argparse.Namespace) -> list[str]:
    from lucid_tron.testing import MongoServer, RedisServer

    tables = []
    with MongoServer() as mongo, RedisServer() as redis:
        if args.only in ("", "payouts"):
            tables.append(await _payouts(mongo.url, redis.url, args.calls))
        if args.only in ("", "invoices"):
            tables.append(await _invoices(mongo.url, redis.url, args.calls))
    return tables


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.creates_profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=50, help="profiled calls of each RPC (default 50)")
    parser.add_argument("--only", choices=("", "payouts", "invoices"), default="", help="one of the two")
    print("\n\n".join(asyncio.run(_run(parser.parse_args(argv)))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

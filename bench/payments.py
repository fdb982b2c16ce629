"""The payment rows: how many blocks an invoice lags the chain, how fast its webhook follows, and what watching costs
in TronGrid requests, on the whole mesh (`lucid-tron up` on devnet) with real transfers made by unmodified tronpy.

    python -m bench.payments                      # ~3 min at the default 1 s blocks
    python -m bench.payments --payments 5 --block-interval 3 --json results.json

The rows (all measured in this one run):
  - blocks from the block holding a payment to the invoice being SEEN (target <= 1) and from that block's
    solidification to PAID (target <= 1): USDT invoices paid in full by tronpy transfers, the head read from devnet
    when each event arrives on WatchInvoice;
  - webhook delivered after the state change: a receiver on loopback registered as a webhook endpoint; the time from
    each event's commit (its `time`) to its signed POST arriving (target < 1 s p50);
  - TronGrid requests per block (and per hour at TRON's 3 s blocks) with 0, 10 and 1,000 open invoices, watcher
    and scheduled reconciliation together (target: 0 open -> heartbeat only; 1,000 open -> no more than one request
    per block in all). The watcher: the growth of tron-relay's and tron-client's `lucid_trongrid_requests_total`
    over a window of blocks, with devnet's count of them by path (where each comes from), less the requests on
    NOT_PAYMENTS_PATHS (staking's account reads, on their own timers, not payment-gateway's). The scheduled
    reconciliation: `--reconcile-runs` runs one after the other by `Reconciler.scheduled` (the call the job makes
    every RECONCILE_INTERVAL_S), built in this process as payment-gateway builds it, from its environment and with
    its budget RECONCILE_MAX_INVOICES_PER_RUN; the same counter's growth over the runs, less the watcher's rate over
    the blocks they took, is a run's cost; a run every RECONCILE_INTERVAL_S (300 s) makes it per hour and per
    block. The mesh's own job is kept from running (RECONCILE_INTERVAL_S a day), so that the watcher's windows
    count the watcher alone. Last, for the record, one run on request (ReconcileInvoices of everything, an
    operator's call, not part of the hourly cost).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from bench.mesh import Mesh
from bench.report import publish
from bench.system import environ
from lucid.tron.v1 import (
    common_pb2,
    events_pb2,
    payment_gateway_pb2 as pg,
    payment_gateway_pb2_grpc,
    webhooks_pb2,
    webhooks_pb2_grpc,
)
from lucid_tron.chain import PrivateKey
from lucid_tron.config import load_settings
from lucid_tron.services.payment_gateway.__main__ import PaymentGatewaySettings
from lucid_tron.services.payment_gateway.reconcile import Reconciler, ReconcileSettings
from lucid_tron.services.payment_gateway.store import PaymentGatewayStore
from lucid_tron.storage import connect_redis

__all__ = ["main"]

PAYER_SECRET = hashlib.sha256(b"lucid-tron bench payer").digest()
PAYER = PrivateKey(PAYER_SECRET)
INVOICE_UNITS = 1_000_000  # 1 USDT
SEEN_TARGET_BLOCKS = 1
PAID_TARGET_BLOCKS = 1
WEBHOOK_TARGET_S = 1.0
TRON_BLOCKS_PER_HOUR = 1200
#: At 1,000 open invoices and more: TronGrid requests per block, watcher and scheduled reconciliation together.
REQUESTS_PER_BLOCK_TARGET = 1.0
LOADED_OPEN_INVOICES = 1000
#: Paths of requests that are not payment-gateway's: staking's keeper and treasury read accounts (GetAccount through
#: tron-client) on their own timers. Counted in the "all services" column, left out of the watcher's.
NOT_PAYMENTS_PATHS = ("/wallet/getaccount", "/walletsolidity/getaccount")
#: At no open invoice: the watcher's heartbeat only (one request a minute: 0.05 per block at 3 s blocks).
HEARTBEAT_PER_BLOCK = 0.1
#: The reconciliation job as deployed: RECONCILE_INTERVAL_S and RECONCILE_MAX_INVOICES_PER_RUN at their defaults.
RECONCILE = ReconcileSettings()
#: RECONCILE_INTERVAL_S of the mesh: its own job does not run during the bench (it makes the scheduled runs itself).
MESH_RECONCILE_INTERVAL_S = 86_400
#: Where the TronGrid requests of the TronGrid rows go, counted by devnet.
COUNTED_PATHS = tuple(
    f"/{view}/{name}"
    for view in ("wallet", "walletsolidity")
    for name in ("getnowblock", "getblockbynum", "getblockbylimitnext", "gettransactioninfobyblocknum",
                 "gettransactioninfobyid", "getaccount")
) + ("/v1/",)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.payments", description=__doc__.split("\n\n")[0])
    parser.add_argument("--payments", type=int, default=5, help="invoices paid, one transfer each (default 5)")
    parser.add_argument("--block-interval", type=float, default=1.0, help="devnet's block time in s (default 1)")
    parser.add_argument("--window-blocks", type=int, default=20, help="blocks per TronGrid count (default 20)")
    parser.add_argument("--open", default="0,10,1000", help="open-invoice counts for the TronGrid rows")
    parser.add_argument("--reconcile-runs", type=int, default=3, help="scheduled reconciliation runs counted per "
                        "open-invoice count (default 3)")
    parser.add_argument("--json", metavar="FILE", help="also write every number as JSON ('-' for stdout only)")
    return parser.parse_args(argv)


class Devnet:
    def __init__(self, url: str) -> None:
        self.url = url

    def info(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/devnet/info", timeout=5) as response:
            return dict(json.loads(response.read()))

    def head(self) -> int:
        return int(self.info()["head"])

    def _faults(self, method: str, body: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/devnet/faults", data=data, method=method,
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return list(json.loads(response.read())["rules"])

    def count_paths(self) -> None:
        """Count the requests devnet receives on each of COUNTED_PATHS from now on (fault rules that do nothing)."""
        self._faults("DELETE")
        self._faults("POST", {"rules": [{"paths": [path]} for path in COUNTED_PATHS]})

    def counted(self) -> dict[str, int]:
        """Requests per path since count_paths, the paths no request took left out."""
        return {rule["paths"][0]: rule["matched"] for rule in self._faults("GET") if rule["matched"]}

    async def wait_blocks(self, count: int) -> tuple[int, int]:
        first = await asyncio.to_thread(self.head)
        while (last := await asyncio.to_thread(self.head)) < first + count:
            await asyncio.sleep(0.2)
        return first, last


def trongrid_requests(mesh: Mesh) -> float:
    """TronGrid requests sent so far by every service that talks to it."""
    total = 0.0
    for name in ("tron-client", "tron-relay"):
        address = mesh.endpoints["metrics"][name]  # type: ignore[index]
        with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as response:
            text = response.read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "lucid_trongrid_requests_total":
                    total += sample.value
    return total


async def open_invoices(gateway: payment_gateway_pb2_grpc.PaymentGatewayServiceStub, count: int) -> list[pg.Invoice]:
    """`count` USDT invoices open for an hour, 16 created at a time."""
    created: list[pg.Invoice] = []
    limit = asyncio.Semaphore(16)

    async def one() -> None:
        async with limit:
            response = await gateway.CreateInvoice(
                pg.CreateInvoiceRequest(
                    request_id=str(uuid.uuid4()), asset=common_pb2.ASSET_USDT, amount_base_units=INVOICE_UNITS,
                    ttl={"seconds": 3600},
                ),
                timeout=30,
            )
            created.append(response.invoice)

    await asyncio.gather(*(one() for _ in range(count)))
    return created


async def trongrid_rows(
    mesh: Mesh,
    devnet: Devnet,
    gateway: payment_gateway_pb2_grpc.PaymentGatewayServiceStub,
    reconciler: Reconciler,
    args: argparse.Namespace,
) -> list[dict[str, Any]]:
    rows = []
    opened = 0
    for target in (int(value) for value in args.open.split(",")):
        if target > opened:
            print(f"opening invoices up to {target}", file=sys.stderr, flush=True)
            await open_invoices(gateway, target - opened)
            opened = target
        await devnet.wait_blocks(2)  # the watcher has noticed them
        before = await asyncio.to_thread(trongrid_requests, mesh)
        await asyncio.to_thread(devnet.count_paths)
        first, last = await devnet.wait_blocks(args.window_blocks)
        sent = await asyncio.to_thread(trongrid_requests, mesh) - before
        by_path = await asyncio.to_thread(devnet.counted)
        others = sum(count for path, count in by_path.items() if path in NOT_PAYMENTS_PATHS)
        per_block = (sent - others) / (last - first)
        row = {"open_invoices": target, "blocks": last - first, "requests": sent, "not_payments": others,
               "per_block": per_block, "per_hour_at_3s_blocks": per_block * TRON_BLOCKS_PER_HOUR, "by_path": by_path}
        print(f"{target} open: {sent:.0f} TronGrid requests in {last - first} blocks", file=sys.stderr, flush=True)
        row["scheduled"] = await scheduled_cost(mesh, devnet, reconciler, per_block, args.reconcile_runs)
        row["total_per_block"] = per_block + row["scheduled"]["per_block_at_3s_blocks"]
        if target:
            row["reconcile"] = await requested_cost(mesh, devnet, gateway)
        rows.append(row)
    return rows


@asynccontextmanager
async def gateway_reconciler(mesh: Mesh) -> AsyncIterator[Reconciler]:
    """payment-gateway's reconciler, built in this process as payment-gateway builds it, from its environment: its
    database, tron-relay, Redis, USDT contract and RECONCILE_MAX_INVOICES_PER_RUN."""
    settings = load_settings(PaymentGatewaySettings, environ(mesh.services["payment-gateway"].pid))
    store = PaymentGatewayStore(settings)
    await store.open()
    tron_relay = settings.tron_relay()
    redis = connect_redis(settings.redis_url, app_name="bench-payments")
    try:
        yield Reconciler.configured(store, settings, owner=f"bench:{os.getpid()}", tron_relay=tron_relay, redis=redis,
                                    usdt_contract=settings.usdt_contract)
    finally:
        await redis.aclose()
        await tron_relay.close()
        await store.close()


async def scheduled_cost(
    mesh: Mesh, devnet: Devnet, reconciler: Reconciler, watcher_per_block: float, runs: int
) -> dict[str, Any]:
    """TronGrid requests of one scheduled run: `runs` of them one after the other (each told that the last run was
    long enough ago, an interval of 0; none of the bench's invoices, open for an hour, is near its window's close
    anyway), less the watcher's requests at `watcher_per_block` over the blocks they took; and what a run every
    RECONCILE_INTERVAL_S makes of it per hour and per block."""
    before = await asyncio.to_thread(trongrid_requests, mesh)
    await asyncio.to_thread(devnet.count_paths)
    first = await asyncio.to_thread(devnet.head)
    started = time.monotonic()
    read, deferred = [], []
    for _ in range(runs):
        run = await reconciler.scheduled(0.0)
        assert run is not None, "no run: another holds the reconciliation lease"
        if run["error"]:
            raise RuntimeError(f"scheduled run {run['_id']} stopped early: {run['error']}")
        read.append(run["invoices_checked"])
        deferred.append(run["invoices_deferred"])
    sent = await asyncio.to_thread(trongrid_requests, mesh) - before
    blocks = await asyncio.to_thread(devnet.head) - first
    by_path = await asyncio.to_thread(devnet.counted)
    watcher_share = watcher_per_block * blocks
    per_run = max(0.0, sent - watcher_share) / runs
    per_hour = per_run * 3600 / RECONCILE.reconcile_interval_s
    print(f"{runs} scheduled runs: {sent:.0f} TronGrid requests in {blocks} blocks, read {read}, left {deferred}",
          file=sys.stderr, flush=True)
    return {"runs": runs, "budget": RECONCILE.reconcile_max_invoices_per_run, "read": read, "deferred": deferred,
            "requests": sent, "blocks": blocks, "watcher_share": watcher_share, "seconds": time.monotonic() - started,
            "per_run": per_run, "per_hour": per_hour, "per_block_at_3s_blocks": per_hour / TRON_BLOCKS_PER_HOUR,
            "by_path": by_path}


async def requested_cost(
    mesh: Mesh, devnet: Devnet, gateway: payment_gateway_pb2_grpc.PaymentGatewayServiceStub
) -> dict[str, Any]:
    """TronGrid requests of one run on request (ReconcileInvoices of every invoice), the watcher's meanwhile
    included: what an operator's call costs, once. A run that fails is recorded as it ended (its error)."""
    before = await asyncio.to_thread(trongrid_requests, mesh)
    await asyncio.to_thread(devnet.count_paths)
    started = time.monotonic()
    try:
        run = (await gateway.ReconcileInvoices(pg.ReconcileInvoicesRequest(), timeout=900)).run
    except grpc.aio.AioRpcError as failure:
        print(f"ReconcileInvoices failed: {failure.code().name} {failure.details()}", file=sys.stderr, flush=True)
        listed = await gateway.ListReconciliationRuns(pg.ListReconciliationRunsRequest(page_size=1), timeout=30)
        run = listed.runs[0]
    sent = await asyncio.to_thread(trongrid_requests, mesh) - before
    by_path = await asyncio.to_thread(devnet.counted)
    return {"requests": sent, "seconds": time.monotonic() - started, "by_path": by_path,
            "invoices_checked": run.invoices_checked, "error": run.error}


class Receiver:
    """A webhook endpoint on loopback: when each event's POST arrived."""

    def __init__(self) -> None:
        self.arrivals: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def _hook(self, request: web.Request) -> web.Response:
        arrived = time.time()
        body = await request.json()
        self.arrivals.append({"arrived": arrived, "id": request.headers.get("webhook-id"), "body": body})
        return web.Response(status=204)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def pay(devnet_url: str, usdt: str, to: str, amount: int) -> int:
    """A USDT transfer by tronpy from the bench's funded payer; the block that holds it."""
    from tronpy import AsyncTron
    from tronpy.keys import PrivateKey as TronpyKey
    from tronpy.providers.async_http import AsyncHTTPProvider

    tron = AsyncTron(AsyncHTTPProvider(devnet_url, api_key=None))
    try:
        contract = await tron.get_contract(usdt)
        builder = await contract.functions.transfer(to, amount)
        txn = await builder.with_owner(PAYER.address).fee_limit(30_000_000).build()
        sent = await txn.sign(TronpyKey(PAYER_SECRET)).broadcast()
        receipt = await sent.wait(timeout=120, interval=0.2)
        return int(receipt["blockNumber"])
    finally:
        await tron.close()


async def payment_rows(
    mesh: Mesh, devnet: Devnet, channel: grpc.aio.Channel, receiver: Receiver, args: argparse.Namespace
) -> dict[str, Any]:
    gateway = payment_gateway_pb2_grpc.PaymentGatewayServiceStub(channel)
    info = await asyncio.to_thread(devnet.info)
    lag = int(info["solidification_lag"])
    usdt = str(mesh.endpoints["devnet"]["usdt_contract"])  # type: ignore[index]
    invoices = await open_invoices(gateway, args.payments)
    results: list[dict[str, Any]] = []

    async def follow(invoice: pg.Invoice) -> None:
        seen_head = paid_head = None
        stream = gateway.WatchInvoice(pg.WatchInvoiceRequest(invoice_id=invoice.invoice_id), timeout=600)
        paying = asyncio.create_task(pay(devnet.url, usdt, invoice.deposit_address, invoice.amount_base_units))
        async for item in stream:
            if not item.HasField("event"):
                continue
            head = await asyncio.to_thread(devnet.head)
            if item.event.type == events_pb2.EVENT_TYPE_INVOICE_PAYMENT_SEEN and seen_head is None:
                seen_head = head
            if item.event.type == events_pb2.EVENT_TYPE_INVOICE_PAID:
                paid_head = head
                break
        stream.cancel()
        block = await paying
        results.append({
            "invoice_id": invoice.invoice_id, "block": block, "seen_head": seen_head, "paid_head": paid_head,
            "blocks_to_seen": None if seen_head is None else seen_head - block,
            "blocks_after_solidified_to_paid": None if paid_head is None else paid_head - (block + lag),
        })

    await asyncio.gather(*(follow(invoice) for invoice in invoices))
    return {"solidification_lag": lag, "payments": results}


def webhook_latencies(receiver: Receiver) -> list[float]:
    latencies = []
    for arrival in receiver.arrivals:
        stamp = arrival["body"].get("timestamp") or arrival["body"].get("data", {}).get("time")
        if not stamp:
            continue
        committed = datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
        latencies.append(arrival["arrived"] - committed)
    return sorted(latencies)


async def _bench(args: argparse.Namespace, work_dir: Path) -> dict[str, Any]:
    mesh = Mesh.start(work_dir, block_interval_s=args.block_interval, fund=[f"{PAYER.address}:1000000000:1000000000"],
                      settings={"RECONCILE_INTERVAL_S": str(MESH_RECONCILE_INTERVAL_S)})
    receiver = Receiver()
    try:
        devnet = Devnet(mesh.devnet_url)
        address = mesh.endpoints["services"]["payment-gateway"]  # type: ignore[index]
        async with grpc.aio.insecure_channel(address) as channel:
            gateway = payment_gateway_pb2_grpc.PaymentGatewayServiceStub(channel)
            async with gateway_reconciler(mesh) as reconciler:
                trongrid = await trongrid_rows(mesh, devnet, gateway, reconciler, args)
            await receiver.start()
            await webhooks_pb2_grpc.WebhookServiceStub(channel).CreateWebhookEndpoint(
                webhooks_pb2.CreateWebhookEndpointRequest(request_id=str(uuid.uuid4()), url=receiver.url), timeout=10
            )
            payments = await payment_rows(mesh, devnet, channel, receiver, args)
            await asyncio.sleep(2)  # the last webhooks arrive
    finally:
        await receiver.stop()
        mesh.stop()
    latencies = webhook_latencies(receiver)
    return {
        "settings": {"payments": args.payments, "block_interval": args.block_interval, "window_blocks": args.window_blocks,
                     "reconcile_interval_s": RECONCILE.reconcile_interval_s,
                     "reconcile_max_invoices_per_run": RECONCILE.reconcile_max_invoices_per_run},
        "trongrid": trongrid,
        "chain": payments,
        "webhooks": {
            "delivered": len(latencies),
            "p50_s": statistics.median(latencies) if latencies else None,
            "max_s": latencies[-1] if latencies else None,
        },
    }


def table(result: dict[str, Any]) -> str:
    payments = result["chain"]["payments"]
    seen = [row["blocks_to_seen"] for row in payments if row["blocks_to_seen"] is not None]
    paid = [row["blocks_after_solidified_to_paid"] for row in payments if row["blocks_after_solidified_to_paid"] is not None]
    lines = [
        f"payments: {len(payments)} USDT invoices, devnet blocks every {result['settings']['block_interval']:g} s, "
        f"solidified {result['chain']['solidification_lag']} blocks behind the head",
        "",
        "| row | median | max | target | verdict |",
        "|---|---|---|---|---|",
    ]

    def row(name: str, values: list[float], target: float, unit: str) -> None:
        if len(values) < len(payments) or not values:
            lines.append(f"| {name} | - | - | <= {target:g} {unit} | MISS ({len(values)} of {len(payments)} seen) |")
            return
        verdict = "PASS" if max(values) <= target else "MISS"
        lines.append(f"| {name} | {statistics.median(values):g} {unit} | {max(values):g} {unit} | <= {target:g} {unit} "
                     f"| {verdict} |")

    row("blocks from inclusion to SEEN", seen, SEEN_TARGET_BLOCKS, "blocks")
    row("blocks from solidification to PAID", paid, PAID_TARGET_BLOCKS, "blocks")
    hooks = result["webhooks"]
    if hooks["p50_s"] is None:
        lines.append(f"| webhook after the state change | - | - | < {WEBHOOK_TARGET_S:g} s p50 | MISS (none arrived) |")
    else:
        verdict = "PASS" if hooks["p50_s"] < WEBHOOK_TARGET_S else "MISS"
        lines.append(f"| webhook after the state change ({hooks['delivered']}) | {hooks['p50_s']:.3f} s "
                     f"| {hooks['max_s']:.3f} s | < {WEBHOOK_TARGET_S:g} s p50 | {verdict} |")
    lines += ["", "| open invoices | TronGrid requests, all services (not payment-gateway's) | blocks "
                  "| watcher per block | watcher per hour at 3 s blocks | by path (devnet) |", "|---|---|---|---|---|---|"]
    for entry in result["trongrid"]:
        paths = _paths(entry["by_path"])
        lines.append(f"| {entry['open_invoices']} | {entry['requests']:.0f} ({entry['not_payments']}) "
                     f"| {entry['blocks']} | {entry['per_block']:.2f} | {entry['per_hour_at_3s_blocks']:.0f} | {paths} |")
    interval = result["settings"]["reconcile_interval_s"]
    budget = result["settings"]["reconcile_max_invoices_per_run"]
    lines += ["", f"| open invoices | watcher per block | scheduled reconciliation (at most {budget} a run): invoices "
                  f"read / left, each run | requests per run | per block (a run every {interval:g} s) | total per block "
                  "| total per hour at 3 s blocks | target | verdict |", "|---|---|---|---|---|---|---|---|---|"]
    for entry in result["trongrid"]:
        scheduled = entry["scheduled"]
        target, verdict = _target(entry)
        counts = ", ".join(f"{read} / {left}" for read, left in zip(scheduled["read"], scheduled["deferred"]))
        lines.append(f"| {entry['open_invoices']} | {entry['per_block']:.2f} | {counts} | {scheduled['per_run']:.1f} "
                     f"| {scheduled['per_block_at_3s_blocks']:.2f} | {entry['total_per_block']:.2f} "
                     f"| {entry['total_per_block'] * TRON_BLOCKS_PER_HOUR:.0f} | {target} | {verdict} |")
    lines += ["", "| open invoices | scheduled runs | TronGrid requests (watcher's share) | blocks | seconds "
                  "| by path (devnet) |", "|---|---|---|---|---|---|"]
    for entry in result["trongrid"]:
        scheduled = entry["scheduled"]
        paths = _paths(scheduled["by_path"])
        lines.append(f"| {entry['open_invoices']} | {scheduled['runs']} | {scheduled['requests']:.0f} "
                     f"({scheduled['watcher_share']:.1f}) | {scheduled['blocks']} | {scheduled['seconds']:.1f} "
                     f"| {paths} |")
    lines += ["", "| open invoices | a run on request (ReconcileInvoices, every invoice): invoices read "
                  "| TronGrid requests | seconds | error | by path (devnet) |", "|---|---|---|---|---|---|"]
    for entry in result["trongrid"]:
        if "reconcile" in entry:
            run = entry["reconcile"]
            paths = _paths(run["by_path"])
            lines.append(f"| {entry['open_invoices']} | {run['invoices_checked']} | {run['requests']:.0f} "
                         f"| {run['seconds']:.1f} | {run['error'] or '-'} | {paths} |")
    return "\n".join(lines)


def _paths(by_path: dict[str, int]) -> str:
    """devnet's count of requests by path, as a table cell."""
    return ", ".join(f"{path} {count}" for path, count in sorted(by_path.items())) or "-"


def _target(entry: dict[str, Any]) -> tuple[str, str]:
    """The TronGrid target of a row and whether it was met: a heartbeat at no open invoice (and no reconciliation
    request), at most one request per block at LOADED_OPEN_INVOICES and more; none in between."""
    if entry["open_invoices"] == 0:
        met = entry["total_per_block"] <= HEARTBEAT_PER_BLOCK and entry["scheduled"]["per_run"] == 0
        return "heartbeat only", "PASS" if met else "MISS"
    if entry["open_invoices"] >= LOADED_OPEN_INVOICES:
        met = entry["total_per_block"] <= REQUESTS_PER_BLOCK_TARGET
        return f"<= {REQUESTS_PER_BLOCK_TARGET:g} per block", "PASS" if met else "MISS"
    return "-", "-"


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-payments-") as work_dir:
        result = asyncio.run(_bench(args, Path(work_dir)))
    publish(result, [table(result)], args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The CreateInvoice row: invoices created per second through payment-gateway against a raw MongoDB insert of the same
invoice document into the same server, in the same run.

    python -m bench.invoices                  # ~40 s; same --json, --duration, --rounds options as `python -m bench`
    python -m bench.invoices --concurrency 1,16

What runs: a SecantusDB (in memory), a Redis of its own, wallet-manager and payment-gateway as processes (`python -m
lucid_tron.services.<name>`, as `up` runs them, in plaintext like the baseline), one HD payment wallet. The rows:
  - raw insert: `insert_one` of an invoice document as payment-gateway stores it, with the durable write concern the
    gateway uses for money state (w=majority, j=True), from this process, `concurrency` inserts in flight, into a
    collection with the indexes the gateway keeps on its invoices (the target's baseline: the same document stored
    the same way), and, for comparison, into one with only the _id index;
  - CreateInvoice: a closed loop of distinct requests (each its own request_id): a deposit address from the pool
    (wallet-manager's DeriveAddresses, a batch ahead of need), and the transaction that writes the idempotency key
    with the response, the invoice, its first event and its outbox event in one round trip (bulkWrite); then the
    Redis announcement. The gateway's outbox dispatcher runs meanwhile, as it does in production.
Rounds are interleaved (raw, then CreateInvoice, at each concurrency) and the median is reported with the spread.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import grpc
from bson import ObjectId
from pymongo import IndexModel

from bench.report import publish
from bench.system import spawn, stop
from bench.wallet import closed_loop
from lucid.tron.v1 import common_pb2, payment_gateway_pb2, wallet_pb2, wallet_pb2_grpc
from lucid_tron.keys import MasterSecret
from lucid_tron.services.payment_gateway.store import INVOICES, PaymentGatewayStore
from lucid_tron.storage import DURABLE_WRITES, connect_mongo, utc_now
from lucid_tron.testing import MongoServer, RedisServer, free_port

__all__ = ["main"]

USDT_CONTRACT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
CREATE = "/lucid.tron.v1.PaymentGatewayService/CreateInvoice"
#: The budget of the issue: CreateInvoice reaches 30% of a raw insert of the same document.
TARGET_RATIO = 0.30
#: The indexes payment-gateway keeps on its invoices: the baseline stores the same document the same way.
INVOICE_INDEXES = PaymentGatewayStore.indexes[INVOICES]


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.invoices", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per measurement (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--concurrency", default="1,16", help="calls in flight, comma-separated (default 1,16)")
    parser.add_argument("--json", metavar="FILE", help="also write every number as JSON ('-' for stdout only)")
    return parser.parse_args(argv)


def invoice_document() -> dict[str, Any]:
    """An invoice as payment-gateway stores it (see services/payment_gateway/invoices.py)."""
    now = utc_now()
    return {
        "_id": f"inv_{ObjectId()}", "status": "PENDING", "exception": "NONE", "asset": "USDT", "amount": 12_500_000,
        "token_contract": USDT_CONTRACT, "network": "devnet", "deposit_address": "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8",
        "address_index": 1, "expire_at": now, "monitoring_window_s": 3600, "tolerance_bps": 0, "order_id": "order-1",
        "metadata": {}, "description": "", "paid": 0, "pending": 0, "payments": [], "sequence": 1,
        "etag": os.urandom(8).hex(), "created_at": now, "updated_at": now,
        # The idempotency key it holds (`embedded_key`): a CreateInvoiceResponse is about 300 bytes.
        "request_id": str(uuid.uuid4()), "request_hash": os.urandom(32).hex(), "create_response": os.urandom(300),
    }


async def raw_inserts(
    mongo_url: str, concurrency: int, duration_s: float, *,
    document: Callable[[], dict[str, Any]] = invoice_document, collection: str = "invoices",
    indexes: Sequence[IndexModel] = (),
) -> dict[str, Any]:
    """Durable inserts per second of distinct `document()`s (invoices by default), `concurrency` in flight, and
    their p50, into `collection` with `indexes` (those the service keeps on it: storing the same document means
    maintaining them too; without, only _id)."""
    database = "bench_raw_indexed" if indexes else "bench_raw"
    client, db = connect_mongo(mongo_url, database, app_name="bench")
    invoices = db.get_collection(collection, write_concern=DURABLE_WRITES)
    if indexes:
        await invoices.create_indexes(list(indexes))
    latencies: list[int] = []
    deadline = time.perf_counter() + duration_s

    async def inserter() -> None:
        while time.perf_counter() < deadline:
            written = document()
            started = time.perf_counter_ns()
            await invoices.insert_one(written)
            latencies.append(time.perf_counter_ns() - started)

    try:
        began = time.perf_counter()
        await asyncio.gather(*(inserter() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    finally:
        await client.close()
    latencies.sort()
    return {"per_s": len(latencies) / elapsed, "p50_ms": latencies[len(latencies) // 2] / 1e6, "errors": 0}


def create_requests(count: int) -> list[bytes]:
    return [
        payment_gateway_pb2.CreateInvoiceRequest(
            request_id=str(uuid.uuid4()), asset=common_pb2.ASSET_USDT, amount_base_units=12_500_000,
            order_id=f"order-{n}",
        ).SerializeToString()
        for n in range(count)
    ]


async def _wallet(address: str) -> str:
    async with grpc.aio.insecure_channel(address) as channel:
        await asyncio.wait_for(channel.channel_ready(), 30)
        stub = wallet_pb2_grpc.WalletServiceStub(channel)
        created = await stub.CreateWallet(
            wallet_pb2.CreateWalletRequest(request_id=str(uuid.uuid4()), wallet=wallet_pb2.Wallet(display_name="payments"))
        )
        return created.wallet.wallet_id


async def _bench(args: argparse.Namespace, work_dir: Path) -> dict[str, Any]:
    concurrencies = [int(value) for value in args.concurrency.split(",")]
    key_file = work_dir / "wallet_master_key"
    MasterSecret.create_file(key_file)
    wallet_port, gateway_port = free_port(), free_port()
    with MongoServer() as mongo, RedisServer() as redis:
        common = {
            **os.environ, "MONGO_URL": mongo.url, "REDIS_URL": redis.url, "USDT_CONTRACT": USDT_CONTRACT,
            "GRPC_INSECURE_PLAINTEXT": "true", "SECRETS_DIR": str(work_dir), "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING",
        }
        wallet = spawn(
            [sys.executable, "-m", "lucid_tron.services.wallet_manager"],
            env={**common, "GRPC_PORT": str(wallet_port), "ENCRYPTION_KEY_FILE": str(key_file)},
            log_path=work_dir / "wallet-manager.log",
        )
        gateway = None
        try:
            wallet_id = await _wallet(f"127.0.0.1:{wallet_port}")
            gateway = spawn(
                [sys.executable, "-m", "lucid_tron.services.payment_gateway"],
                env={
                    **common, "GRPC_PORT": str(gateway_port), "WALLET_MANAGER_ADDR": f"127.0.0.1:{wallet_port}",
                    "PAYMENT_WALLET_ID": wallet_id, "TRON_NETWORK": "devnet",
                    # Never called by CreateInvoice: nothing listens there.
                    "TRON_CLIENT_ADDR": "127.0.0.1:9", "TRON_RELAY_ADDR": "127.0.0.1:9",
                },
                log_path=work_dir / "payment-gateway.log",
            )
            rows: dict[str, list[dict[str, Any]]] = {}
            budget = int(args.duration * 3000) + 500
            async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway_port}") as channel:
                await asyncio.wait_for(channel.channel_ready(), 30)
                await closed_loop(channel, CREATE, create_requests(20), 1, args.duration, gateway.pid)  # warm-up
                for _ in range(args.rounds):
                    for concurrency in concurrencies:
                        rows.setdefault(f"raw insert c={concurrency}", []).append(
                            await raw_inserts(mongo.url, concurrency, args.duration, indexes=INVOICE_INDEXES)
                        )
                        rows.setdefault(f"raw insert, _id index only c={concurrency}", []).append(
                            await raw_inserts(mongo.url, concurrency, args.duration)
                        )
                        rows.setdefault(f"CreateInvoice c={concurrency}", []).append(
                            await closed_loop(
                                channel, CREATE, create_requests(budget), concurrency, args.duration, gateway.pid
                            )
                        )
        finally:
            if gateway is not None:
                stop(gateway, 10)
            stop(wallet, 10)
    return {"rows": _summary(rows, concurrencies), "rounds": rows, "target_ratio": TARGET_RATIO}


def _summary(rows: dict[str, list[dict[str, Any]]], concurrencies: list[int]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for concurrency in concurrencies:
        raw = rows[f"raw insert c={concurrency}"]
        bare = rows[f"raw insert, _id index only c={concurrency}"]
        created = rows[f"CreateInvoice c={concurrency}"]
        ratios = [c["per_s"] / r["per_s"] for r, c in zip(raw, created, strict=True) if r["per_s"]]
        bare_ratios = [c["per_s"] / r["per_s"] for r, c in zip(bare, created, strict=True) if r["per_s"]]
        for name, measured in ((f"raw insert c={concurrency}", raw), (f"raw insert, _id index only c={concurrency}", bare),
                               (f"CreateInvoice c={concurrency}", created)):
            create = name.startswith("Create")
            summary[name] = {
                "per_s": statistics.median(row["per_s"] for row in measured),
                "min": min(row["per_s"] for row in measured),
                "max": max(row["per_s"] for row in measured),
                "p50_ms": statistics.median(row["p50_ms"] for row in measured if row.get("p50_ms") is not None),
                "errors": sum(row.get("errors", 0) for row in measured),
                "vs_raw": statistics.median(ratios) if create else None,
                "vs_raw_min": min(ratios) if create else None,
                "vs_raw_max": max(ratios) if create else None,
                "vs_bare": statistics.median(bare_ratios) if create else None,
            }
    return summary


def table(result: dict[str, Any]) -> str:
    lines = ["| row | per s (min..max) | vs raw insert (min..max) | vs _id-only insert | p50 ms | errors |",
             "|---|---|---|---|---|---|"]
    for name, row in result["rows"].items():
        versus = (f"{row['vs_raw']:.2f} ({row['vs_raw_min']:.2f}..{row['vs_raw_max']:.2f}) | {row['vs_bare']:.2f}"
                  if row["vs_raw"] is not None else "- | -")
        lines.append(
            f"| {name} | {row['per_s']:.0f} ({row['min']:.0f}..{row['max']:.0f}) | {versus} | {row['p50_ms']:.2f} "
            f"| {row['errors']} |"
        )
    worst = min(row["vs_raw"] for name, row in result["rows"].items() if name.startswith("Create"))
    verdict = "PASS" if worst >= TARGET_RATIO else "MISS"
    lines.append(f"\nbudget: CreateInvoice >= {TARGET_RATIO:.0%} of a raw insert of the same document into a collection "
                 f"with the same indexes, at every concurrency: {worst:.2f} {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-invoices-") as work_dir:
        result = asyncio.run(_bench(args, Path(work_dir)))
    publish(result, [table(result)], args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The payout rows, on the whole mesh (`lucid-tron up` on devnet, plaintext), all measured in this one run:

    python -m bench.payouts                         # ~3 min at the default 3 s blocks (TRON's)
    python -m bench.payouts --payouts 40 --json results.json

  - CreatePayout per second against a raw MongoDB insert of the same payout document into the same server (target:
    >= 30% at every concurrency). CreatePayout runs on a second payout-router process started like `up`'s but with no
    payout wallet and a database of its own, so its executor idles (the baseline does no execution either); the raw
    insert is `insert_one` with the durable write concern payout-router uses (w=majority, j=True), into a collection
    with the indexes payout-router keeps on its payouts (the same document stored the same way; the target's
    baseline) and, for comparison, into one with only the _id index;
  - payouts end to end per second: `--payouts` payouts created at once on `up`'s payout-router, from the first
    create to the last one seen BROADCAST (GetPayout polled every 20 ms);
  - CreatePayout to BROADCAST, one payout at a time, no approval (target < 1 s), and to CONFIRMED: the time from the
    including block's solidification (its time + devnet's solidification lag in blocks) to CONFIRMED seen, in blocks
    (target <= 1).
Payouts go to an address devnet funds with USDT at start, so each transfer costs the usual energy, 0.01 USDT each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import grpc

from bench.invoices import raw_inserts
from lucid_tron.services.payout_router.store import PAYOUTS, PayoutRouterStore
from bench.mesh import FUNDED_ADDRESS, Mesh
from bench.report import publish
from bench.system import cmdline, environ, spawn, stop
from bench.wallet import closed_loop
from lucid.tron.v1 import common_pb2
from lucid.tron.v1 import payout_router_pb2 as pr
from lucid.tron.v1 import payout_router_pb2_grpc
from lucid_tron.storage import utc_now
from lucid_tron.testing import free_port

__all__ = ["main"]

CREATE = "/lucid.tron.v1.PayoutRouterService/CreatePayout"
#: The budgets of the issue.
TARGET_RATIO = 0.30
#: The indexes payout-router keeps on its payouts: the baseline stores the same document the same way.
PAYOUT_INDEXES = PayoutRouterStore.indexes[PAYOUTS]
BROADCAST_TARGET_S = 1.0
CONFIRMED_TARGET_BLOCKS = 1.0
PAYOUT_UNITS = 10_000  # 0.01 USDT
POLL_S = 0.02


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.payouts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per throughput measurement (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved throughput rounds (default 3)")
    parser.add_argument("--concurrency", default="1,16", help="creates in flight, comma-separated (default 1,16)")
    parser.add_argument("--payouts", type=int, default=30, help="payouts created at once end to end (default 30)")
    parser.add_argument("--latency-payouts", type=int, default=5, help="payouts timed one by one (default 5)")
    parser.add_argument("--block-interval", type=float, default=3.0, help="devnet's block time in s (default 3, as TRON)")
    parser.add_argument("--json", metavar="FILE", help="also write every number as JSON ('-' for stdout only)")
    return parser.parse_args(argv)


def payout_document() -> dict[str, Any]:
    """A payout as payout-router stores it at CreatePayout (see services/payout_router/payouts.py)."""
    now = utc_now()
    return {
        "_id": f"po_{os.urandom(12).hex()}", "request_id": str(uuid.uuid4()), "state": "APPROVED",
        "recipient": FUNDED_ADDRESS, "asset": "USDT", "amount": 1, "reference": "", "from_address": "",
        "approval_required": False, "creator": "", "role": "unauthenticated", "approver": "", "state_reason": "",
        "failed_by": "", "batch_id": "", "batch_index": 0, "txid": "", "block_number": 0, "fee_sun": 0,
        "attempts": [], "windows": {"hour": now.strftime("%Y-%m-%dT%H"), "day": now.strftime("%Y-%m-%d")},
        "version": 1, "event_seq": 1, "etag": os.urandom(8).hex(), "created_at": now, "updated_at": now,
        # The idempotency key it holds (`embedded_key`; request_id above): a CreatePayoutResponse is about 250 bytes.
        "request_hash": os.urandom(32).hex(), "create_response": os.urandom(250),
    }


def create_requests(count: int, amount: int = 1) -> list[bytes]:
    return [
        pr.CreatePayoutRequest(
            request_id=str(uuid.uuid4()),
            payout=pr.Payout(recipient=FUNDED_ADDRESS, asset=common_pb2.ASSET_USDT, amount_base_units=amount),
        ).SerializeToString()
        for _ in range(count)
    ]


def _idle_router(mesh: Mesh, work_dir: Path) -> tuple[Any, str]:
    """A second payout-router as `up` runs it, without a payout wallet (its executor idles) and on its own
    database, so the payouts it creates are never executed."""
    pid = mesh.services["payout-router"].pid
    port = free_port()
    env = {**environ(pid), "GRPC_PORT": str(port), "METRICS_PORT": str(free_port()), "HEALTH_PORT": str(free_port()),
           "PAYOUT_WALLET_ID": "", "MONGO_DATABASE": "bench_payouts_create", "SHUTDOWN_GRACE_S": "0"}
    return spawn(cmdline(pid), env=env, log_path=work_dir / "payout-router-idle.log"), f"127.0.0.1:{port}"


async def _throughput(args: argparse.Namespace, mesh: Mesh, work_dir: Path) -> dict[str, list[dict[str, Any]]]:
    concurrencies = [int(value) for value in args.concurrency.split(",")]
    router, address = _idle_router(mesh, work_dir)
    rows: dict[str, list[dict[str, Any]]] = {}
    budget = int(args.duration * 3000) + 500
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            await asyncio.wait_for(channel.channel_ready(), 30)
            await closed_loop(channel, CREATE, create_requests(50), 1, 1.0, router.pid)  # warm-up
            for _ in range(args.rounds):
                for concurrency in concurrencies:
                    rows.setdefault(f"raw insert c={concurrency}", []).append(
                        await raw_inserts(str(mesh.endpoints["mongo_url"]), concurrency, args.duration,
                                          document=payout_document, collection=PAYOUTS, indexes=PAYOUT_INDEXES)
                    )
                    rows.setdefault(f"raw insert, _id index only c={concurrency}", []).append(
                        await raw_inserts(str(mesh.endpoints["mongo_url"]), concurrency, args.duration,
                                          document=payout_document, collection=PAYOUTS)
                    )
                    rows.setdefault(f"CreatePayout c={concurrency}", []).append(
                        await closed_loop(channel, CREATE, create_requests(budget), concurrency, args.duration,
                                          router.pid)
                    )
    finally:
        stop(router, 10)
    return rows


async def _until(stub: Any, payout_id: str, states: set[int], poll_s: float = POLL_S) -> tuple[pr.Payout, float]:
    """The payout once in one of `states`, and when that was seen (perf_counter)."""
    while True:
        payout = (await stub.GetPayout(pr.GetPayoutRequest(payout_id=payout_id), timeout=10)).payout
        if payout.state in states:
            return payout, time.perf_counter()
        if payout.state in (pr.PAYOUT_STATE_FAILED, pr.PAYOUT_STATE_CANCELLED, pr.PAYOUT_STATE_REJECTED):
            raise RuntimeError(f"payout {payout_id} ended {pr.PayoutState.Name(payout.state)}: {payout.state_reason}")
        await asyncio.sleep(poll_s)


SENT = {pr.PAYOUT_STATE_BROADCAST, pr.PAYOUT_STATE_CONFIRMED}


async def _create(stub: Any) -> tuple[str, float]:
    started = time.perf_counter()
    created = await stub.CreatePayout(pr.CreatePayoutRequest.FromString(create_requests(1, PAYOUT_UNITS)[0]),
                                      timeout=10)
    return created.payout.payout_id, started


async def _end_to_end(args: argparse.Namespace, mesh: Mesh) -> dict[str, Any]:
    devnet = _devnet_info(mesh.devnet_url)
    address = mesh.endpoints["services"]["payout-router"]  # type: ignore[index]
    async with grpc.aio.insecure_channel(address) as channel:
        stub = payout_router_pb2_grpc.PayoutRouterServiceStub(channel)
        to_broadcast, confirming = [], []
        for _ in range(args.latency_payouts):
            payout_id, started = await _create(stub)
            _, seen = await _until(stub, payout_id, SENT)
            to_broadcast.append(seen - started)
            confirming.append(asyncio.create_task(_until(stub, payout_id, {pr.PAYOUT_STATE_CONFIRMED}, 0.05)))
        after_solidified = []
        for task in confirming:
            payout, seen = await task
            seen_wall = time.time() - (time.perf_counter() - seen)
            solidified_at = _block_time(mesh.devnet_url, payout.block_number) + (
                devnet["solidification_lag"] * devnet["block_interval"])
            after_solidified.append((seen_wall - solidified_at) / devnet["block_interval"])
        began = time.perf_counter()
        created = await asyncio.gather(*(_create(stub) for _ in range(args.payouts)))
        sent = await asyncio.gather(*(_until(stub, payout_id, SENT) for payout_id, _ in created))
        rate = len(sent) / (max(seen for _, seen in sent) - began)
    return {
        "end_to_end_per_s": rate,
        "payouts": args.payouts,
        "to_broadcast_s": to_broadcast,
        "confirmed_blocks_after_solidified": after_solidified,
        "block_interval_s": devnet["block_interval"],
        "solidification_lag_blocks": devnet["solidification_lag"],
    }


def _devnet_info(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/devnet/info", timeout=5) as response:
        return dict(json.loads(response.read()))


def _block_time(url: str, number: int) -> float:
    request = urllib.request.Request(f"{url}/wallet/getblockbynum", data=json.dumps({"num": number}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(json.loads(response.read())["block_header"]["raw_data"]["timestamp"]) / 1000


def _summary(rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name, measured in rows.items():
        row = {
            "per_s": statistics.median(m["per_s"] for m in measured),
            "min": min(m["per_s"] for m in measured),
            "max": max(m["per_s"] for m in measured),
            "p50_ms": statistics.median(m["p50_ms"] for m in measured if m.get("p50_ms") is not None),
            "errors": sum(m.get("errors", 0) for m in measured),
        }
        if name.startswith("CreatePayout"):
            raw = rows[name.replace("CreatePayout", "raw insert")]
            bare = rows[name.replace("CreatePayout", "raw insert, _id index only")]
            ratios = [m["per_s"] / r["per_s"] for r, m in zip(raw, measured, strict=True) if r["per_s"]]
            bare_ratios = [m["per_s"] / r["per_s"] for r, m in zip(bare, measured, strict=True) if r["per_s"]]
            row.update(vs_raw=statistics.median(ratios), vs_raw_min=min(ratios), vs_raw_max=max(ratios),
                       vs_bare=statistics.median(bare_ratios))
        summary[name] = row
    return summary


def table(result: dict[str, Any]) -> str:
    lines = ["| row | per s (min..max) | vs raw insert (min..max) | vs _id-only insert | p50 ms | errors |",
             "|---|---|---|---|---|---|"]
    for name, row in result["rows"].items():
        ratio = (f"{row['vs_raw']:.2f} ({row['vs_raw_min']:.2f}..{row['vs_raw_max']:.2f}) | {row['vs_bare']:.2f}"
                 if "vs_raw" in row else "- | -")
        lines.append(f"| {name} | {row['per_s']:.0f} ({row['min']:.0f}..{row['max']:.0f}) | {ratio} | "
                     f"{row['p50_ms']:.2f} | {row['errors']} |")
    e2e = result["end_to_end"]
    to_broadcast = e2e["to_broadcast_s"]
    confirmed = e2e["confirmed_blocks_after_solidified"]
    lines += [
        "",
        f"payouts end to end (created -> BROADCAST): {e2e['end_to_end_per_s']:.1f}/s over {e2e['payouts']} payouts",
        f"CreatePayout -> BROADCAST, no approval: p50 {statistics.median(to_broadcast):.3f} s, "
        f"max {max(to_broadcast):.3f} s (n={len(to_broadcast)})",
        f"solidified -> CONFIRMED: p50 {statistics.median(confirmed):.2f} blocks, max {max(confirmed):.2f} blocks "
        f"(blocks of {e2e['block_interval_s']:g} s; solidified {e2e['solidification_lag_blocks']} blocks after "
        "inclusion)",
        "",
    ]
    worst = min(row["vs_raw"] for row in result["rows"].values() if "vs_raw" in row)
    for what, value, ok in (
        (f"CreatePayout >= {TARGET_RATIO:.0%} of a raw insert of the same document into a collection with the same "
         "indexes, at every concurrency", f"{worst:.2f}",
         worst >= TARGET_RATIO),
        (f"CreatePayout -> BROADCAST < {BROADCAST_TARGET_S:g} s (max)", f"{max(to_broadcast):.3f} s",
         max(to_broadcast) < BROADCAST_TARGET_S),
        (f"CONFIRMED <= {CONFIRMED_TARGET_BLOCKS:g} block after solidification (max)", f"{max(confirmed):.2f}",
         max(confirmed) <= CONFIRMED_TARGET_BLOCKS),
    ):
        lines.append(f"budget: {what}: {value} {'PASS' if ok else 'MISS'}")
    return "\n".join(lines)


async def _bench(args: argparse.Namespace, work_dir: Path) -> dict[str, Any]:
    mesh = Mesh.start(work_dir, block_interval_s=args.block_interval)
    try:
        rows = await _throughput(args, mesh, work_dir)
        end_to_end = await _end_to_end(args, mesh)
    finally:
        mesh.stop()
    return {"rows": _summary(rows), "rounds": rows, "end_to_end": end_to_end, "target_ratio": TARGET_RATIO}


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-payouts-") as work_dir:
        result = asyncio.run(_bench(args, Path(work_dir)))
    publish(result, [table(result)], args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

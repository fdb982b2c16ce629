"""The wallet rows: signatures per second through wallet-manager's SignTransaction against raw coincurve signing in the
same run, and DeriveAddress per second.

    python -m bench.wallet                 # ~30 s; same --json, --duration, --rounds options as `python -m bench`
    python -m bench.wallet --concurrency 1,8

What runs: a SecantusDB (in memory) and one wallet-manager process (`python -m lucid_tron.services.wallet_manager`,
as `up` runs it, a fresh master secret), one HD wallet with a spend policy far above what is signed. The rows:
  - raw coincurve: `coincurve.PrivateKey.sign_recoverable(txid, hasher=None)` in this process, one thread: the
    floor of what signing costs, with nothing around it;
  - SignTransaction: a closed loop of distinct TRX transfers (each its own txid, so each is decoded, checked against
    its intent and the policy, counted against the daily cap, signed, recorded and written to the audit log; none is a
    replay), pre-serialized so the client does no protobuf work;
  - DeriveAddress: next-index derivation (one atomic increment, one BIP-32 step, one insert, one audit entry).
Rounds are interleaved (raw, sign, derive, then again) and the median is reported with the spread.
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
from pathlib import Path
from typing import Any

import coincurve
import grpc

from bench.load import CALL_TIMEOUT_S
from bench.report import publish
from bench.system import cpu_seconds, spawn, stop
from lucid.tron.v1 import common_pb2, wallet_pb2, wallet_pb2_grpc
from lucid_tron.chain import build_transaction, make_block_id, transfer_contract
from lucid_tron.keys import MasterSecret
from lucid_tron.testing import MongoServer, free_port

__all__ = ["main"]

USDT_CONTRACT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
RECIPIENT = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
SIGN = "/lucid.tron.v1.WalletService/SignTransaction"
DERIVE = "/lucid.tron.v1.WalletService/DeriveAddress"
#: The budget of the issue: SignTransaction at concurrency 1 reaches half of raw signing.
TARGET_RATIO = 0.5


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.wallet", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per measurement (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--concurrency", default="1,8", help="SignTransaction/DeriveAddress concurrencies (1,8)")
    parser.add_argument("--json", metavar="FILE", help="also write every number as JSON ('-' for stdout only)")
    return parser.parse_args(argv)


def raw_signing_rate(duration_s: float) -> float:
    """Recoverable secp256k1 signatures per second of distinct 32-byte digests, one thread, nothing else."""
    key = coincurve.PrivateKey()
    digests = [os.urandom(32) for _ in range(1024)]
    done, deadline = 0, time.perf_counter() + duration_s
    began = time.perf_counter()
    while time.perf_counter() < deadline:
        for digest in digests[:64]:
            key.sign_recoverable(digest, hasher=None)
        done += 64
    return done / (time.perf_counter() - began)


def sign_requests(wallet_id: str, owner: str, count: int) -> list[bytes]:
    """`count` distinct TRX transfers (their expirations differ by a millisecond) with matching intents."""
    now = int(time.time() * 1000)
    intent = wallet_pb2.TransactionIntent(
        kind=wallet_pb2.TRANSACTION_KIND_TRX_TRANSFER, owner_address=owner, recipient_address=RECIPIENT,
        asset=common_pb2.ASSET_TRX, amount_base_units=1,
    )
    requests = []
    for n in range(count):
        tx = build_transaction(
            transfer_contract(owner, RECIPIENT, 1), ref_block_number=1, ref_block_id=make_block_id(1, bytes(32)),
            expiration_ms=now + 3_600_000 + n, timestamp_ms=now,
        )
        raw = tx.raw_data.SerializeToString(deterministic=True)
        requests.append(
            wallet_pb2.SignTransactionRequest(wallet_id=wallet_id, raw_data=raw, intent=intent).SerializeToString()
        )
    return requests


async def closed_loop(
    channel: grpc.aio.Channel, method: str, requests: list[bytes], concurrency: int, duration_s: float, pid: int
) -> dict[str, Any]:
    """Calls per second with `concurrency` callers, each request used once; p50 latency and server CPU per call."""
    stub = channel.unary_unary(method)
    queue = iter(requests)
    latencies: list[int] = []
    errors = 0
    deadline = time.perf_counter() + duration_s

    async def caller() -> None:
        nonlocal errors
        for request in queue:
            if time.perf_counter() >= deadline:
                return
            started = time.perf_counter_ns()
            try:
                await stub(request, timeout=CALL_TIMEOUT_S)
            except grpc.aio.AioRpcError:
                errors += 1
                continue
            latencies.append(time.perf_counter_ns() - started)

    cpu_before = cpu_seconds(pid) or 0.0
    began = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    cpu = (cpu_seconds(pid) or 0.0) - cpu_before
    latencies.sort()
    return {
        "per_s": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] / 1e6 if latencies else None,
        "server_us_per_call": cpu / len(latencies) * 1e6 if latencies else None,
        "errors": errors,
        "ok": len(latencies),
    }


async def _bench(args: argparse.Namespace, work_dir: Path) -> dict[str, Any]:
    concurrencies = [int(value) for value in args.concurrency.split(",")]
    key_file = work_dir / "wallet_master_key"
    MasterSecret.create_file(key_file)
    port = free_port()
    with MongoServer() as mongo:
        env = {
            **os.environ, "MONGO_URL": mongo.url, "USDT_CONTRACT": USDT_CONTRACT, "ENCRYPTION_KEY_FILE": str(key_file),
            "GRPC_PORT": str(port), "GRPC_INSECURE_PLAINTEXT": "true", "SECRETS_DIR": str(work_dir), "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING",
        }
        process = spawn([sys.executable, "-m", "lucid_tron.services.wallet_manager"], env=env,
                        log_path=work_dir / "wallet-manager.log")
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                await asyncio.wait_for(channel.channel_ready(), 30)
                stub = wallet_pb2_grpc.WalletServiceStub(channel)
                wallet = (await _create_wallet(stub)).wallet
                rows: dict[str, list[dict[str, Any]]] = {}
                budget = int(args.duration * 5000) + 1000
                for _ in range(args.rounds):
                    rows.setdefault("raw", []).append({"per_s": raw_signing_rate(args.duration)})
                    for concurrency in concurrencies:
                        requests = sign_requests(wallet.wallet_id, wallet.first_address, budget)
                        rows.setdefault(f"sign c={concurrency}", []).append(
                            await closed_loop(channel, SIGN, requests, concurrency, args.duration, process.pid)
                        )
                        derive = [
                            wallet_pb2.DeriveAddressRequest(wallet_id=wallet.wallet_id).SerializeToString()
                        ] * budget
                        rows.setdefault(f"derive c={concurrency}", []).append(
                            await closed_loop(channel, DERIVE, derive, concurrency, args.duration, process.pid)
                        )
        finally:
            stop(process, 10)
    raw = statistics.median(row["per_s"] for row in rows["raw"])
    summary = {
        name: {
            "per_s": statistics.median(row["per_s"] for row in measured),
            "min": min(row["per_s"] for row in measured),
            "max": max(row["per_s"] for row in measured),
            "p50_ms": _median([row.get("p50_ms") for row in measured]),
            "server_us_per_call": _median([row.get("server_us_per_call") for row in measured]),
            "errors": sum(row.get("errors", 0) for row in measured),
            "vs_raw": statistics.median(row["per_s"] for row in measured) / raw,
        }
        for name, measured in rows.items()
    }
    return {"rows": summary, "rounds": rows, "target_ratio": TARGET_RATIO}


async def _create_wallet(stub: wallet_pb2_grpc.WalletServiceStub) -> wallet_pb2.CreateWalletResponse:
    big = 10**15
    policy = wallet_pb2.SpendPolicy(
        caps=[wallet_pb2.AssetCap(asset=common_pb2.ASSET_TRX, per_transaction_max_base_units=big, daily_max_base_units=big)],
        allowed_kinds=[wallet_pb2.TRANSACTION_KIND_TRX_TRANSFER],
    )
    return await stub.CreateWallet(
        wallet_pb2.CreateWalletRequest(request_id=str(uuid.uuid4()), wallet=wallet_pb2.Wallet(spend_policy=policy))
    )


def _median(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def table(result: dict[str, Any]) -> str:
    lines = [
        "| row | per s (min..max) | vs raw coincurve | p50 ms | server us/call | errors |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in result["rows"].items():
        p50 = f"{row['p50_ms']:.2f}" if row["p50_ms"] is not None else "-"
        cpu = f"{row['server_us_per_call']:.0f}" if row["server_us_per_call"] is not None else "-"
        lines.append(
            f"| {name} | {row['per_s']:.0f} ({row['min']:.0f}..{row['max']:.0f}) | {row['vs_raw']:.4f} | {p50} | {cpu} "
            f"| {row['errors']} |"
        )
    sign = result["rows"].get("sign c=1")
    if sign is not None:
        verdict = "PASS" if sign["vs_raw"] >= TARGET_RATIO else "MISS"
        lines.append(f"\nbudget: SignTransaction c=1 >= {TARGET_RATIO:.0%} of raw signing: {sign['vs_raw']:.4f} {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-wallet-") as work_dir:
        result = asyncio.run(_bench(args, Path(work_dir)))
    publish(result, [table(result)], args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

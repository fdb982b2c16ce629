"""The USDT rows: a USDT transfer built and signed locally, and usdt-manager's Transfer end to end on devnet, against raw
coincurve signing in the same run.

    python -m bench.usdt                   # ~40 s; --json, --duration, --rounds as `python -m bench.wallet`
    python -m bench.usdt --concurrency 1,4

What runs: devnet (`python -m lucid_tron.devnet`, a block a second), a SecantusDB (in memory), and tron-client,
wallet-manager and usdt-manager processes as `up` runs them, in plaintext, Tor off (devnet is on loopback). One HD
wallet whose first address devnet funds with TRX and USDT; tron-relay is not started (only ListTransfers needs it).
The rows:
  - raw coincurve: `coincurve.PrivateKey.sign_recoverable(txid, hasher=None)`, one thread: the floor of signing;
  - build+sign, local: what usdt-manager does to a transfer without any I/O: TriggerSmartContract transfer(to, amount)
    raw_data built and serialized, txid (sha256) computed, signed with lucid_tron.chain's key (coincurve);
  - Transfer: a closed loop of Transfer calls, each with its own request_id (none is a replay): the estimate (balances,
    accounts, resources, chain parameters and estimateenergy through tron-client), the reference block, building,
    SignTransaction with its intent in wallet-manager (decode, intent, policy, daily cap, audit), the durable insert,
    the broadcast through tron-client to devnet, and the idempotency key, each as a real process and call.
Rounds are interleaved and the median is reported with the spread.
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

from bench.report import publish
from bench.system import spawn, stop
from bench.wallet import closed_loop, raw_signing_rate
from lucid.tron.v1 import common_pb2, usdt_pb2, wallet_pb2, wallet_pb2_grpc
from lucid_tron.chain import PrivateKey, build_transaction, make_block_id, trc20_transfer, txid
from lucid_tron.keys import MasterSecret
from lucid_tron.testing import MongoServer, free_port

__all__ = ["main"]

TRANSFER = "/lucid.tron.v1.UsdtService/Transfer"
#: A recipient that holds USDT (devnet funds it), so every transfer costs the holder's energy.
RECIPIENT = PrivateKey(b"\x01" * 32).address
#: Nothing listens here: tron-relay is not needed by Transfer.
NOBODY = "127.0.0.1:9"
DIRECT = {"USE_TOR_FOR_EXTERNAL_CALLS": "false", "ALLOW_DIRECT_EXTERNAL_CALLS": "true", "TOR_ONLY": "false"}


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.usdt", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per measurement (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--concurrency", default="1,4", help="Transfer concurrencies (default 1,4)")
    parser.add_argument("--json", metavar="FILE", help="also write every number as JSON ('-' for stdout only)")
    return parser.parse_args(argv)


def build_and_sign_rate(usdt_contract: str, duration_s: float) -> float:
    """Transfers built, hashed and signed per second in this process, one thread, no I/O."""
    key = PrivateKey(os.urandom(32))
    owner = key.address
    block_id = make_block_id(1000, bytes(32))
    now = int(time.time() * 1000)
    done, began = 0, time.perf_counter()
    deadline = began + duration_s
    while time.perf_counter() < deadline:
        for n in range(32):
            tx = build_transaction(
                trc20_transfer(owner, usdt_contract, RECIPIENT, 1 + n), ref_block_number=1000, ref_block_id=block_id,
                expiration_ms=now + 120_000, timestamp_ms=now, fee_limit_sun=8_400_000,
            )
            key.sign_digest(txid(tx.raw_data.SerializeToString(deterministic=True)))
        done += 32
    return done / (time.perf_counter() - began)


def transfer_requests(wallet_id: str, sender: str, count: int) -> list[bytes]:
    return [
        usdt_pb2.TransferRequest(
            request_id=str(uuid.uuid4()), wallet_id=wallet_id, from_address=sender, to_address=RECIPIENT,
            amount_base_units=1,
        ).SerializeToString()
        for _ in range(count)
    ]


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


async def _ready(address: str) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        await asyncio.wait_for(channel.channel_ready(), 30)


async def _bench(args: argparse.Namespace, work_dir: Path) -> dict[str, Any]:
    concurrencies = [int(value) for value in args.concurrency.split(",")]
    ports = {name: free_port() for name in ("devnet", "tron-client", "wallet-manager", "usdt-manager")}
    key_file = work_dir / "wallet_master_key"
    MasterSecret.create_file(key_file)
    processes = []
    with MongoServer() as mongo:
        base = {**os.environ, **DIRECT, "GRPC_INSECURE_PLAINTEXT": "true", "SECRETS_DIR": str(work_dir),
                "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING", "MONGO_URL": mongo.url}
        try:
            processes.append(spawn(
                [sys.executable, "-m", "lucid_tron.devnet", "--host", "127.0.0.1", "--port", str(ports["devnet"]),
                 "--block-interval", "1"], env=base, log_path=work_dir / "devnet.log",
            ))
            devnet_url = f"http://127.0.0.1:{ports['devnet']}"
            usdt_contract = await _devnet_usdt(devnet_url)
            env = {**base, "TRONGRID_URL": devnet_url, "USDT_CONTRACT": usdt_contract,
                   "TRON_CLIENT_ADDR": f"127.0.0.1:{ports['tron-client']}", "TRON_RELAY_ADDR": NOBODY,
                   "WALLET_MANAGER_ADDR": f"127.0.0.1:{ports['wallet-manager']}", "ENCRYPTION_KEY_FILE": str(key_file)}
            for name in ("tron-client", "wallet-manager", "usdt-manager"):
                processes.append(spawn(
                    [sys.executable, "-m", f"lucid_tron.services.{name.replace('-', '_')}"],
                    env={**env, "GRPC_PORT": str(ports[name])}, log_path=work_dir / f"{name}.log",
                ))
            for name in ("tron-client", "wallet-manager", "usdt-manager"):
                await _ready(f"127.0.0.1:{ports[name]}")
            wallet = await _create_wallet(f"127.0.0.1:{ports['wallet-manager']}", usdt_contract)
            for funded in ({"address": wallet.first_address, "trx_sun": 10**15, "usdt_units": 10**12},
                           {"address": RECIPIENT, "trx_sun": 10**6, "usdt_units": 1}):
                await asyncio.to_thread(_post, f"{devnet_url}/devnet/fund", funded)
            usdt_pid = processes[-1].pid
            rows: dict[str, list[dict[str, Any]]] = {}
            async with grpc.aio.insecure_channel(f"127.0.0.1:{ports['usdt-manager']}") as channel:
                for _ in range(args.rounds):
                    rows.setdefault("raw coincurve", []).append({"per_s": raw_signing_rate(args.duration)})
                    rows.setdefault("build+sign, local", []).append(
                        {"per_s": build_and_sign_rate(usdt_contract, args.duration)}
                    )
                    for concurrency in concurrencies:
                        requests = transfer_requests(wallet.wallet_id, wallet.first_address, int(args.duration * 500))
                        rows.setdefault(f"Transfer c={concurrency}", []).append(
                            await closed_loop(channel, TRANSFER, requests, concurrency, args.duration, usdt_pid)
                        )
        finally:
            for process in reversed(processes):
                stop(process, 10)
    raw = statistics.median(row["per_s"] for row in rows["raw coincurve"])
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
    return {"rows": summary, "rounds": rows}


async def _devnet_usdt(url: str) -> str:
    """The USDT contract devnet runs, once it answers."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return str((await asyncio.to_thread(_post, f"{url}/devnet/info", {}))["usdt_address"])
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def _create_wallet(address: str, usdt_contract: str) -> wallet_pb2.Wallet:
    big = 10**15
    policy = wallet_pb2.SpendPolicy(
        caps=[wallet_pb2.AssetCap(asset=common_pb2.ASSET_USDT, per_transaction_max_base_units=big,
                                  daily_max_base_units=big)],
        allowed_kinds=[wallet_pb2.TRANSACTION_KIND_TRC20_TRANSFER],
        allowed_contracts=[usdt_contract],
        max_fee_limit_sun=100_000_000,
    )
    async with grpc.aio.insecure_channel(address) as channel:
        created = await wallet_pb2_grpc.WalletServiceStub(channel).CreateWallet(
            wallet_pb2.CreateWalletRequest(request_id=str(uuid.uuid4()), wallet=wallet_pb2.Wallet(spend_policy=policy))
        )
    return created.wallet


def _median(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def table(result: dict[str, Any]) -> str:
    lines = [
        "| row | per s (min..max) | vs raw coincurve | p50 ms | usdt-manager us/call | errors |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in result["rows"].items():
        p50 = f"{row['p50_ms']:.2f}" if row["p50_ms"] is not None else "-"
        cpu = f"{row['server_us_per_call']:.0f}" if row["server_us_per_call"] is not None else "-"
        lines.append(
            f"| {name} | {row['per_s']:.0f} ({row['min']:.0f}..{row['max']:.0f}) | {row['vs_raw']:.4f} | {p50} | {cpu} "
            f"| {row['errors']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-usdt-") as work_dir:
        result = asyncio.run(_bench(args, Path(work_dir)))
    publish(result, [table(result)], args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

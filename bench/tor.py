"""The Tor rows: a TronGrid read through the private Tor network against the same read straight to devnet, measured
in one run, and the time the read path takes to come back after the Tor client restarts.

    python -m bench --tor          # the whole benchmark, then these rows
    python -m bench.tor            # these rows alone (~1 min), same options (--json, --rounds, --duration, ...)

What runs: devnet (`python -m lucid_tron.devnet` on 127.0.0.1, funded account, --block-interval), a private Tor
network on loopback (lucid_tron.testing.TorNetwork: 3 authorities, one the exit, + a client; every circuit is
client -> 3 relays -> devnet) and two tron-client processes with the same settings but one:
  - direct: Tor off as `lucid-tron up` runs it (USE_TOR_FOR_EXTERNAL_CALLS=false + ALLOW_DIRECT_EXTERNAL_CALLS=true),
    TRONGRID_URL=http://127.0.0.1:<devnet port>: the baseline;
  - tor: Tor required, TRONGRID_URL=http://trongrid.test:<devnet port> (only the exit resolves it), SOCKS and control
    ports of the network's client: what `lucid-tron up --tor` and production run.
The call is `TronClientService.GetNowBlock{}` (one TronGrid request, /walletsolidity/getnowblock), closed loop at each
`--tor-concurrency`, the two paths interleaved in every round so that a ratio compares numbers taken seconds apart.

Recovery, `--tor-restarts` times each, in this order: the client tor is SIGKILLed, tron-client (tor) must report
NOT_SERVING, tor stays dead `DOWN_S`, then `tor` is spawned again (same torrc, ports, data dir). Times are from that
spawn to: Tor ready (TorNetwork.wait_ready: bootstrapped and a GET through it answered), tron-client SERVING (its
health), and its first successful read. Two kinds of outage:
  - quiet: nobody calls tron-client while Tor is down, and the first read is sent once health says SERVING;
  - busy: a caller sends a read every 100 ms throughout (down, restart, back), as a live node's callers would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.load import Call, Measurement, measure, wait_ready
from bench.mesh import MeshError
from bench.system import spawn, stop
from lucid.tron.v1 import tron_client_pb2
from lucid_tron.testing import free_port

__all__ = ["add_arguments", "bench_tor", "main", "table"]

FUNDED_ADDRESS = "TCPrNU1gePQ5BnoGe8vg6yyDqNwmHExBEw"
TRON_CLIENT = "lucid.tron.v1.TronClientService"
CALL = Call("/lucid.tron.v1.TronClientService/GetNowBlock", tron_client_pb2.GetNowBlockRequest().SerializeToString())
START_TIMEOUT_S = 60.0
#: How long tor stays dead in each recovery measurement (several of the monitor's 1 s rechecks).
DOWN_S = 2.0
#: How long a recovery may take before it is reported as not recovered.
RECOVERY_TIMEOUT_S = 90.0
BUSY_INTERVAL_S = 0.1
_HEALTH_CHECK = "/grpc.health.v1.Health/Check"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tor-concurrency", default="1,16", help="calls in flight for the Tor rows (default 1,16)")
    parser.add_argument(
        "--tor-restarts", type=int, default=3, help="recoveries measured of each kind, quiet and busy (default 3)"
    )


def _say(message: str) -> None:
    print(f"bench tor: {message}", file=sys.stderr, flush=True)


@dataclass
class _Path:
    key: str  # "direct", "tor"
    address: str
    pid: int
    process: Any
    results: dict[int, list[Measurement]] = field(default_factory=dict)


async def bench_tor(args: argparse.Namespace, work_dir: Path) -> dict[str, Any]:
    """Start devnet, the Tor network and the two tron-clients, measure, stop everything; the results dict."""
    from lucid_tron.testing import TorNetwork

    began = time.monotonic()
    concurrency = sorted({int(c) for c in str(args.tor_concurrency).split(",")})
    work_dir.mkdir(parents=True, exist_ok=True)
    network = TorNetwork(work_dir / "tor")
    devnet = None
    paths: dict[str, _Path] = {}
    try:
        _say("starting devnet and the private Tor network")
        booting = asyncio.ensure_future(asyncio.to_thread(network.start))
        devnet, devnet_url = await _start_devnet(args, work_dir)
        await booting
        _say(f"Tor network ready in {network.started_in_s:.1f} s (isolation: {network.isolation})")
        devnet_port = int(devnet_url.rsplit(":", 1)[1])
        for key in ("direct", "tor"):
            paths[key] = _spawn_tron_client(key, network, devnet_url, devnet_port, work_dir)
        for path in paths.values():
            if not await _serving(path.address):
                raise MeshError(f"tron-client ({path.key}) did not answer SERVING; see {work_dir}")
        watched = {"devnet": devnet.pid} | {f"tor:{name}": pid for name, pid in network.pids.items()}
        for path in paths.values():
            await measure(
                path.address, CALL, concurrency=max(concurrency), channels=1, max_requests=200, duration_s=1.0,
                warmup_s=0.1, watched={},
            )  # fmt: skip
        for number in range(1, args.rounds + 1):
            for c in concurrency:
                for path in paths.values():
                    result = await measure(
                        path.address, CALL, concurrency=c, channels=1, max_requests=args.requests,
                        duration_s=args.duration, warmup_s=args.warmup, watched={"server": path.pid} | watched,
                    )  # fmt: skip
                    path.results.setdefault(c, []).append(result)
                    errors = f", errors {dict(result.errors)}" if result.errors else ""
                    _say(
                        f"round {number}/{args.rounds} c={c} {path.key}: {result.requests_per_s:.0f} req/s "
                        f"p50 {result.p50_ms or 0:.2f} ms p99 {result.p99_ms or 0:.2f} ms{errors}"
                    )
        recoveries = []
        for number in range(1, args.tor_restarts + 1):
            for kind in ("quiet", "busy"):
                recovery = await _recovery(network, paths["tor"].address, kind)
                recoveries.append(recovery)
                _say(f"recovery {number}/{args.tor_restarts} ({kind}): {_recovery_line(recovery)}")
        return {
            "settings": {
                "concurrency": concurrency,
                "rounds": args.rounds,
                "duration": args.duration,
                "requests": args.requests,
                "restarts": args.tor_restarts,
                "down_s": DOWN_S,
                "isolation": network.isolation,
                "tor_boot_s": network.started_in_s,
            },
            "throughput": _rows(paths, concurrency),
            "recovery": recoveries,
            "elapsed_s": round(time.monotonic() - began, 1),
        }
    finally:
        for path in paths.values():
            stop(path.process, 10.0)
        if devnet is not None:
            stop(devnet, 10.0)
        await asyncio.to_thread(network.stop)


async def _start_devnet(args: argparse.Namespace, work_dir: Path) -> tuple[Any, str]:
    log_path = work_dir / "tor-devnet.log"
    argv = [
        sys.executable, "-m", "lucid_tron.devnet", "--host", "127.0.0.1", "--port", "0",
        "--block-interval", f"{args.block_interval:g}", "--fund", f"{FUNDED_ADDRESS}:1000000000:1000000",
    ]  # fmt: skip
    process = spawn(argv, env=os.environ, log_path=log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        for line in log_path.read_text(errors="replace").splitlines():
            if line.startswith("{") and '"url"' in line:
                return process, str(json.loads(line)["url"])
        await asyncio.sleep(0.05)
    stop(process, 5.0)
    raise MeshError(f"devnet did not start; see {log_path}")


def _spawn_tron_client(key: str, network: Any, devnet_url: str, devnet_port: int, work_dir: Path) -> _Path:
    port = free_port()
    secrets = work_dir / "tor-secrets"
    secrets.mkdir(exist_ok=True)
    ours = ("GRPC_", "TLS_", "HEALTH_", "OTEL_", "LOG_", "TRONGRID_", "TOR_", "USE_TOR", "ALLOW_DIRECT")
    env = {name: value for name, value in os.environ.items() if not name.startswith(ours)}
    env.update(
        GRPC_HOST="127.0.0.1", GRPC_PORT=str(port), LOG_FORMAT="json", LOG_LEVEL="INFO", SHUTDOWN_GRACE_S="0",
        SECRETS_DIR=str(secrets), GRPC_INSECURE_PLAINTEXT="true",
    )  # fmt: skip
    if key == "direct":
        env.update(
            TRONGRID_URL=devnet_url, USE_TOR_FOR_EXTERNAL_CALLS="false", ALLOW_DIRECT_EXTERNAL_CALLS="true",
            TOR_ONLY="false",
        )  # fmt: skip
    else:
        env.update(
            TRONGRID_URL=f"http://trongrid.test:{devnet_port}",
            USE_TOR_FOR_EXTERNAL_CALLS="true",
            TOR_PROXY_HOST="127.0.0.1",
            TOR_PROXY_SOCKS_PORT=str(network.socks_port),
            TOR_PROXY_CONTROL_PORT=str(network.control_port),
            TOR_CONTROL_COOKIE_PATH=str(network.control_cookie_path),
        )
    argv = [sys.executable, "-m", "lucid_tron.services.tron_client"]
    process = spawn(argv, env=env, log_path=work_dir / f"tron-client-{key}.log")
    return _Path(key, f"127.0.0.1:{port}", process.pid, process)


async def _serving(address: str) -> bool:
    probe = Call(_HEALTH_CHECK, health_pb2.HealthCheckRequest(service=TRON_CLIENT).SerializeToString())
    def serving(response: bytes) -> bool:
        return health_pb2.HealthCheckResponse.FromString(response).status == health_pb2.HealthCheckResponse.SERVING

    return await wait_ready(address, probe, serving, timeout_s=START_TIMEOUT_S)


# -- recovery ------------------------------------------------------------------------------------------------------


async def _recovery(network: Any, address: str, kind: str) -> dict[str, Any]:
    """Kill the client tor, bring it back, time what comes back when (see the module doc)."""
    async with grpc.aio.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        read = channel.unary_unary(CALL.method)

        async def serving() -> bool:
            try:
                answer = await health.Check(health_pb2.HealthCheckRequest(service=TRON_CLIENT), timeout=2)
            except grpc.aio.AioRpcError:
                return False
            return answer.status == health_pb2.HealthCheckResponse.SERVING

        async def one_read() -> tuple[bool, float, str]:
            began = time.monotonic()
            try:
                await read(CALL.request, timeout=10)
            except grpc.aio.AioRpcError as error:
                return False, time.monotonic() - began, error.code().name
            return True, time.monotonic() - began, "OK"

        calls: list[tuple[float, bool, float, str]] = []  # (sent at, ok, seconds, code)

        async def busy_caller() -> None:
            while True:
                sent = time.monotonic()
                calls.append((sent, *await one_read()))
                await asyncio.sleep(max(0.0, sent + BUSY_INTERVAL_S - time.monotonic()))

        killed = time.monotonic()
        network.kill_client()
        caller = asyncio.ensure_future(busy_caller()) if kind == "busy" else None
        try:
            while await serving():
                if time.monotonic() - killed > RECOVERY_TIMEOUT_S:
                    raise MeshError("tron-client kept answering SERVING with its tor killed")
                await asyncio.sleep(0.02)
            not_serving_s = time.monotonic() - killed
            await asyncio.sleep(max(0.0, killed + DOWN_S - time.monotonic()))

            restarted = time.monotonic()
            network.start_client(wait=False)

            async def tor_ready_after() -> float:
                await asyncio.to_thread(network.wait_ready)
                return time.monotonic() - restarted

            tor_ready = asyncio.ensure_future(tor_ready_after())
            serving_s = first_read_s = None
            while time.monotonic() - restarted < RECOVERY_TIMEOUT_S:
                if serving_s is None and await serving():
                    serving_s = time.monotonic() - restarted
                if kind == "busy":
                    good = [sent for sent, ok, _, _ in calls if ok and sent >= restarted]
                    if good:
                        first_read_s = good[0] - restarted
                elif serving_s is not None:
                    sent = time.monotonic()
                    ok, seconds, code = await one_read()
                    calls.append((sent, ok, seconds, code))
                    if ok:
                        first_read_s = sent - restarted
                if serving_s is not None and first_read_s is not None:
                    break
                await asyncio.sleep(0.02)
            tor_ready_s = await tor_ready
        finally:
            if caller is not None:
                caller.cancel()
                await asyncio.gather(caller, return_exceptions=True)
            if not network.client_running:
                await asyncio.to_thread(network.start_client)
    down = [(ok, seconds, code) for sent, ok, seconds, code in calls if killed <= sent < restarted]
    refused_after = [code for sent, ok, _, code in calls if sent >= restarted and not ok]
    return {
        "kind": kind,
        "not_serving_after_kill_s": round(not_serving_s, 3),
        "tor_ready_s": round(tor_ready_s, 3),
        "serving_s": _round(serving_s),
        "first_read_s": _round(first_read_s),
        "calls_while_down": len(down),
        "down_codes": sorted({code for _, _, code in down}),
        "down_ms": [round(seconds * 1000, 2) for _, seconds, _ in down],
        "failed_after_restart": len(refused_after),
        "failed_after_restart_codes": sorted(set(refused_after)),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _recovery_line(recovery: dict[str, Any]) -> str:
    line = (
        f"NOT_SERVING {recovery['not_serving_after_kill_s']:.2f} s after the kill; after the restart: Tor ready "
        f"{recovery['tor_ready_s']:.2f} s, SERVING {_s(recovery['serving_s'])}, first good read "
        f"{_s(recovery['first_read_s'])}"
    )
    if recovery["calls_while_down"]:
        line += f"; {recovery['calls_while_down']} calls while down: {recovery['down_codes']}"
    return line


def _s(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


# -- results and the table ----------------------------------------------------------------------------------------


def _rows(paths: dict[str, _Path], concurrency: list[int]) -> list[dict[str, Any]]:
    rows = []
    for c in concurrency:
        direct = paths["direct"].results.get(c, [])
        for path in paths.values():
            rounds = path.results.get(c, [])
            ratios = [
                mine.requests_per_s / base.requests_per_s for mine, base in zip(rounds, direct) if base.requests_per_s
            ]
            p50_ratios = [
                mine.p50_ms / base.p50_ms for mine, base in zip(rounds, direct) if mine.p50_ms and base.p50_ms
            ]
            rows.append(
                {
                    "path": path.key,
                    "concurrency": c,
                    "requests_per_s": _median([r.requests_per_s for r in rounds]),
                    "p50_ms": _median([r.p50_ms for r in rounds if r.p50_ms is not None]),
                    "p99_ms": _median([r.p99_ms for r in rounds if r.p99_ms is not None]),
                    "ratio": _median(ratios),
                    "ratio_min": min(ratios, default=None),
                    "ratio_max": max(ratios, default=None),
                    "p50_ratio": _median(p50_ratios),
                    "server_cpu_per_call_us": _median([u for r in rounds if (u := _cpu_us(r, "server")) is not None]),
                    "tor_cpu_per_call_us": _median([u for r in rounds if (u := _cpu_us(r, "tor:")) is not None]),
                    "devnet_cpu_per_call_us": _median([u for r in rounds if (u := _cpu_us(r, "devnet")) is not None]),
                    "errors": sum(sum(r.errors.values()) for r in rounds),
                    "rounds": [
                        {
                            "ok": r.ok,
                            "errors": dict(r.errors),
                            "requests_per_s": round(r.requests_per_s, 1),
                            "p50_ms": r.p50_ms,
                            "p99_ms": r.p99_ms,
                            "process_cpu_s": {name: round(s, 4) for name, s in r.process_cpu_s.items()},
                        }
                        for r in rounds
                    ],
                }
            )
    return rows


def _cpu_us(result: Measurement, prefix: str) -> float | None:
    seconds = sum(s for name, s in result.process_cpu_s.items() if name.startswith(prefix))
    return result.cpu_per_call_us(seconds)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def table(results: dict[str, Any]) -> str:
    settings = results["settings"]
    lines = [
        f"TRONGRID READ THROUGH TOR vs DIRECT: tron-client GetNowBlock{{}} -> devnet on 127.0.0.1; private Tor network "
        f"on loopback (booted in {settings['tor_boot_s']:.1f} s, isolation {settings['isolation']}); median of "
        f"{settings['rounds']} rounds x {settings['duration']:g} s, both paths interleaved",
    ]
    header = ["path", "conc", "req/s", "p50 ms", "p99 ms", "vs direct", "p50 x direct", "srv us/call", "tor us/call",
              "devnet us/call", "errors"]  # fmt: skip
    body = [
        [
            row["path"], str(row["concurrency"]), _num(row["requests_per_s"], 0), _num(row["p50_ms"], 2),
            _num(row["p99_ms"], 2),
            "1" if row["path"] == "direct" else f"{_num(row['ratio'], 2)} ({_num(row['ratio_min'], 2)}.."
            f"{_num(row['ratio_max'], 2)})",
            "1" if row["path"] == "direct" else _num(row["p50_ratio"], 1),
            _num(row["server_cpu_per_call_us"], 0), _num(row["tor_cpu_per_call_us"], 0),
            _num(row["devnet_cpu_per_call_us"], 0), str(row["errors"]),
        ]  # fmt: skip
        for row in results["throughput"]
    ]
    lines += _columns([header, *body], right=(1, 2, 3, 4, 7, 8, 9, 10))
    lines += [
        "",
        f"RECOVERY AFTER THE TOR CLIENT RESTARTS (tor SIGKILLed, down {settings['down_s']:g} s, spawned again on the "
        f"same ports; s from that spawn; median (min..max) of {settings['restarts']})",
    ]
    header = ["outage", "NOT_SERVING after kill", "Tor ready", "tron-client SERVING", "first good read",
              "calls while down", "failed after restart"]  # fmt: skip
    body = []
    kinds = (("quiet", "quiet (no calls while down)"), ("busy", f"busy (a call every {BUSY_INTERVAL_S:g} s)"))
    for kind, label in kinds:
        runs = [r for r in results["recovery"] if r["kind"] == kind]
        if not runs:
            continue
        down_ms = [ms for r in runs for ms in r["down_ms"]]
        codes = sorted({code for r in runs for code in r["down_codes"]})
        failed = sorted({code for r in runs for code in r["failed_after_restart_codes"]})
        body.append(
            [
                label,
                _spread([r["not_serving_after_kill_s"] for r in runs]),
                _spread([r["tor_ready_s"] for r in runs]),
                _spread([r["serving_s"] for r in runs]),
                _spread([r["first_read_s"] for r in runs]),
                f"{len(down_ms)} {','.join(codes)}: p50 {_num(_median(down_ms), 1)} ms, max {_num(max(down_ms), 0)} ms"
                if down_ms
                else "0",
                f"{sum(r['failed_after_restart'] for r in runs)} {','.join(failed)}".strip(),
            ]
        )
    lines += _columns([header, *body], right=())
    return "\n".join(lines)


def _spread(values: list[float | None]) -> str:
    measured = [v for v in values if v is not None]
    missing = len(values) - len(measured)
    if not measured:
        return "never"
    text = f"{statistics.median(measured):.2f} ({min(measured):.2f}..{max(measured):.2f})"
    return text + (f", {missing} never" if missing else "")


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}" if digits == 0 else f"{value:.{digits}f}"


def _columns(rows: list[list[str]], right: tuple[int, ...]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        "  ".join(cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in rows
    ]


# -- alone ------------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=2.0, help="seconds of one measurement (default 2)")
    parser.add_argument("--requests", type=int, default=50_000, help="most calls in one measurement (default 50000)")
    parser.add_argument("--warmup", type=float, default=0.3, help="seconds of warm-up before each one (default 0.3)")
    parser.add_argument("--rounds", type=int, default=3, help="repetitions of every measurement (default 3)")
    parser.add_argument("--block-interval", type=float, default=3.0, help="devnet's block time (default 3)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH ('-': stdout only)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs of every process)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    work_dir = Path(tempfile.mkdtemp(prefix="lucid-bench-tor-"))
    ok = False
    try:
        results = asyncio.run(bench_tor(args, work_dir))
        ok = True
    except MeshError as error:
        _say(str(error))
        return 1
    finally:
        if args.keep or not ok:
            _say(f"logs kept in {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    if args.json != "-":
        print(table(results), flush=True)
    if args.json:
        text = json.dumps(results, indent=2)
        if args.json == "-":
            print(text, flush=True)
        else:
            Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

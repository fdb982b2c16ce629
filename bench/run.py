"""`python -m bench`: throughput, latency, idle memory and start time of the mesh, as ratios against a bare grpc.aio
echo server measured in the same run. See bench/README.md for what each row means.

Steps: start the echo servers (bare and on lucid_tron.mesh) as their own processes and the mesh with `lucid-tron up`
(own temp state dir, own Redis); let everything settle and read idle memory; warm every target up (this also fills
the relay's cache); run the rounds, each measuring every target at every concurrency back to back so that a ratio
compares numbers taken seconds apart; read memory again; start each process alone a few times and time it to
SERVING; stop everything; print the table (or JSON) with each budget as PASS or MISS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import __version__ as protobuf_version
from grpc_health.v1 import health_pb2

from bench import acl as bench_acl
from bench import echo, report
from bench import tor as bench_tor
from bench.load import Call, Measurement, measure, wait_ready
from bench.mesh import FUNDED_ADDRESS, Mesh, MeshError
from bench.system import pss_kib, rss_kib, spawn, stop
from lucid.tron.v1 import relay_pb2, tron_client_pb2
from lucid_tron.pki import PkiDirectory, TlsFiles, channel_credentials
from lucid_tron.testing import free_port

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
#: Bytes the echo client sends (and gets back): about the size of the relay's GetNowBlock response.
ECHO_PAYLOAD = b"\x2a" * 160
START_TIMEOUT_S = 30.0
_HEALTH_CHECK = "/grpc.health.v1.Health/Check"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=2.0, help="seconds of one measurement (default 2)")
    parser.add_argument("--requests", type=int, default=50_000, help="most calls in one measurement (default 50000)")
    parser.add_argument("--warmup", type=float, default=0.3, help="seconds of warm-up before each one (default 0.3)")
    parser.add_argument("--rounds", type=int, default=3, help="repetitions of every measurement (default 3)")
    parser.add_argument("--concurrency", default="1,64", help="calls in flight, comma-separated (default 1,64)")
    parser.add_argument(
        "--channels", default="1,4", help="channels tried at the highest concurrency (default 1,4); others use 1"
    )
    parser.add_argument("--start-repeats", type=int, default=3, help="starts of each process alone (default 3)")
    parser.add_argument("--settle", type=float, default=3.0, help="idle seconds before reading memory (default 3)")
    parser.add_argument("--block-interval", type=float, default=3.0, help="devnet's block time (default 3, as TRON)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH ('-': stdout only)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a budget is missed")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs of every process)")
    parser.add_argument(
        "--tor", action="store_true", help="then a TronGrid read through a private Tor network vs direct (bench/tor.py)"
    )
    bench_tor.add_arguments(parser)
    parser.add_argument(
        "--acl", action="store_true", help="then mTLS + the ACL vs plaintext, and the beta-sidecar hop (bench/acl.py)"
    )
    bench_acl.add_arguments(parser)
    args = parser.parse_args(argv)
    args.concurrency = sorted({int(c) for c in args.concurrency.split(",")})
    args.channels = sorted({int(c) for c in args.channels.split(",")})
    if min(args.concurrency) < 1 or min(args.channels) < 1 or args.requests < 1 or args.rounds < 1:
        parser.error("concurrency, channels, requests and rounds must be >= 1")
    return args


@dataclass
class Target:
    """What one row measures: which server, which call, which processes' CPU to report."""

    key: str
    label: str
    address: str
    call: Call
    watched: dict[str, int]
    #: Reads the sampled responses; returns a short note for the table (e.g. the cache hit rate).
    inspect: Callable[[list[bytes]], str] | None = None
    broken: str | None = None
    #: Mutual TLS with an operator's certificate; None: plaintext.
    credentials: grpc.ChannelCredentials | None = None
    results: dict[tuple[int, int], list[Measurement]] = field(default_factory=dict)


def _say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    work_dir = Path(tempfile.mkdtemp(prefix="lucid-bench-"))
    ok = False
    try:
        results = asyncio.run(_bench(args, work_dir))
        if args.tor:
            results["tor"] = asyncio.run(bench_tor.bench_tor(args, work_dir / "tor"))
        if args.acl:
            results["acl"] = asyncio.run(bench_acl.bench_acl(args, work_dir / "acl"))
        ok = True
    except MeshError as error:
        _say(str(error))
        return 1
    finally:
        if args.keep or not ok:
            _say(f"logs kept in {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    tables = [report.table(results)]
    if "tor" in results:
        tables.append(bench_tor.table(results["tor"]))
    if "acl" in results:
        tables.append(bench_acl.table(results["acl"]))
    report.publish(results, tables, args.json)
    missed = [budget["name"] for budget in results["budgets"] if budget["status"] == "MISS"]
    return 1 if args.strict and missed else 0


async def _bench(args: argparse.Namespace, work_dir: Path) -> dict[str, Any]:
    began = time.monotonic()
    results: dict[str, Any] = {"environment": _environment(), "settings": _settings(args)}
    echo_servers: dict[str, Any] = {}
    mesh: Mesh | None = None
    tls_echo: tuple[Any, str] | None = None
    try:
        for key, extra in (("echo", []), ("mesh-echo", ["--mesh"])):
            port = free_port()
            process = _spawn_echo(port, extra, work_dir / f"{key}.log")
            echo_servers[key] = (process, f"127.0.0.1:{port}")
            if not await _echo_ready(key, f"127.0.0.1:{port}"):
                raise MeshError(f"{key} did not start; see {work_dir / (key + '.log')}")
        # The mesh echo again with mutual TLS: what TLS costs a call, next to the plaintext mesh echo. Left out of
        # the memory and start-time tables, which compare processes as `up` runs them.
        server_tls, credentials = _bench_pki(work_dir / "pki")
        port = free_port()
        tls_echo = (_spawn_echo(port, ["--mesh"], work_dir / "mesh-echo-mtls.log", server_tls), f"127.0.0.1:{port}")
        if not await _serving(tls_echo[1], echo.SERVICE, credentials):
            raise MeshError(f"mesh-echo-mtls did not start; see {work_dir / 'mesh-echo-mtls.log'}")
        _say("starting the mesh with `lucid-tron up`")
        mesh = Mesh.start(work_dir, block_interval_s=args.block_interval)
        _say(f"mesh SERVING {mesh.ready_after_s:.2f} s after launching `up`; settling {args.settle:g} s")
        await asyncio.sleep(args.settle)
        processes = {key: process.pid for key, (process, _) in echo_servers.items()} | mesh.processes
        idle = {role: (rss_kib(pid), pss_kib(pid)) for role, pid in processes.items()}

        targets = _targets(echo_servers, mesh)
        targets.insert(
            2,
            Target(
                "mesh-echo-mtls",
                "echo on lucid_tron.mesh, mTLS",
                tls_echo[1],
                Call(echo.METHOD, ECHO_PAYLOAD),
                {"server": tls_echo[0].pid},
                credentials=credentials,
            ),
        )
        for target in targets:
            await _warm_up(target, args)
        configs = [(c, 1) for c in args.concurrency] + [(max(args.concurrency), k) for k in args.channels if k != 1]
        for number in range(1, args.rounds + 1):
            for concurrency, channels in configs:
                for target in targets:
                    if target.broken is None:
                        await _measure(target, concurrency, channels, args, f"round {number}/{args.rounds}")
        loaded = {role: rss_kib(pid) for role, pid in processes.items()}
        results["memory"] = _memory(idle, loaded, mesh)
        results["throughput"] = _throughput(targets, configs)
        results["startup"] = await _startup(args, mesh, echo_servers, work_dir)
    finally:
        for process, _ in [*echo_servers.values(), *([tls_echo] if tls_echo else [])]:
            stop(process, 10.0)
        if mesh is not None:
            _say("stopping the mesh")
            mesh.stop()
    results["budgets"] = report.budgets(results)
    results["environment"]["loadavg_end"] = os.getloadavg()
    results["elapsed_s"] = round(time.monotonic() - began, 1)
    return results


def _environment() -> dict[str, Any]:
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "protobuf": protobuf_version,
        "loadavg_start": os.getloadavg(),
    }


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("duration", "requests", "warmup", "rounds", "concurrency", "channels", "start_repeats", "settle")
    return {key: getattr(args, key) for key in keys} | {"block_interval": args.block_interval}


def _bench_pki(folder: Path) -> tuple[TlsFiles, grpc.ChannelCredentials]:
    """A CA of the run's own: the TLS echo's certificate files, and an operator's credentials to call it."""
    pki = PkiDirectory(folder)
    pki.init_ca()
    server = pki.issue_service("bench-echo")
    return server, channel_credentials(pki.issue_operator("bench").read())


def _spawn_echo(port: int, extra: list[str], log_path: Path, tls: TlsFiles | None = None) -> Any:
    env = dict(os.environ)
    # The mesh echo reads the same variables as a service; an empty secrets dir keeps /run/secrets out of it.
    secrets = log_path.parent / "echo-secrets"
    secrets.mkdir(exist_ok=True)
    env.update(LOG_FORMAT="json", LOG_LEVEL="INFO", SHUTDOWN_GRACE_S="0", SECRETS_DIR=str(secrets))
    if tls is None:
        # Plaintext like the bare echo it is compared with (the mesh's default is mutual TLS).
        env["GRPC_INSECURE_PLAINTEXT"] = "true"
    else:
        env.update(TLS_CERT_FILE=str(tls.certificate), TLS_KEY_FILE=str(tls.key), TLS_CA_FILE=str(tls.ca))
        # With TLS the ACL is enforced: a policy that lets the bench operator call the echo (the shipped one does not).
        env["ACL_POLICY_FILE"] = str(bench_acl.bench_policy(log_path.parent))
    if extra:
        # Metrics on, as `lucid-tron up` runs every service (tracing as the caller's environment says, as in `up`).
        env["METRICS_PORT"] = str(free_port())
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return spawn([sys.executable, "-m", "bench.echo", "--port", str(port), *extra], env=env, log_path=log_path, cwd=ROOT)


async def _echo_ready(key: str, address: str) -> bool:
    if key == "echo":
        return await wait_ready(address, Call(echo.METHOD, b"ready"), lambda _: True, timeout_s=START_TIMEOUT_S)
    return await _serving(address, echo.SERVICE)


async def _serving(address: str, service: str, credentials: grpc.ChannelCredentials | None = None) -> bool:
    probe = Call(_HEALTH_CHECK, health_pb2.HealthCheckRequest(service=service).SerializeToString())
    return await wait_ready(address, probe, _is_serving, timeout_s=START_TIMEOUT_S, credentials=credentials)


def _is_serving(response: bytes) -> bool:
    return health_pb2.HealthCheckResponse.FromString(response).status == health_pb2.HealthCheckResponse.SERVING


def _targets(echo_servers: dict[str, Any], mesh: Mesh) -> list[Target]:
    processes = mesh.processes
    relay, client = mesh.services["tron-relay"], mesh.services["tron-client"]
    return [
        Target(
            "echo",
            "echo, bare grpc.aio (baseline)",
            echo_servers["echo"][1],
            Call(echo.METHOD, ECHO_PAYLOAD),
            {"server": echo_servers["echo"][0].pid},
        ),
        Target(
            "mesh-echo",
            "echo on lucid_tron.mesh",
            echo_servers["mesh-echo"][1],
            Call(echo.METHOD, ECHO_PAYLOAD),
            {"server": echo_servers["mesh-echo"][0].pid},
        ),
        Target(
            "relay",
            "tron-relay GetNowBlock, cached",
            relay.address,
            Call(
                "/lucid.tron.v1.RelayService/GetNowBlock",
                relay_pb2.RelayServiceGetNowBlockRequest().SerializeToString(),
            ),
            {"server": relay.pid, "redis": processes["redis"], "devnet": processes["devnet"]},
            _cache_hits,
        ),
        Target(
            "tron-client",
            "tron-client GetAccount, uncached",
            client.address,
            Call(
                "/lucid.tron.v1.TronClientService/GetAccount",
                tron_client_pb2.GetAccountRequest(address=FUNDED_ADDRESS).SerializeToString(),
            ),
            {"server": client.pid, "devnet": processes["devnet"]},
            _account_read,
        ),
    ]


def _cache_hits(samples: list[bytes]) -> str:
    answers = [relay_pb2.RelayServiceGetNowBlockResponse.FromString(sample) for sample in samples]
    if not answers:
        return ""
    hits = sum(answer.cache.from_cache for answer in answers)
    stale = sum(answer.cache.stale for answer in answers)
    note = f"cache hits {100 * hits / len(answers):.0f}%"
    return note + (f", stale {stale}" if stale else "")


def _account_read(samples: list[bytes]) -> str:
    answers = [tron_client_pb2.GetAccountResponse.FromString(sample) for sample in samples]
    wrong = sum(answer.account.address != FUNDED_ADDRESS for answer in answers)
    return f"{wrong} of {len(answers)} sampled answers name another account" if wrong else ""


async def _warm_up(target: Target, args: argparse.Namespace) -> None:
    """One second at the highest concurrency; a target that answers nothing is reported, not measured."""
    try:
        result = await measure(
            target.address,
            target.call,
            concurrency=max(args.concurrency),
            channels=1,
            max_requests=max(args.requests, 64),
            duration_s=min(1.0, max(args.duration, 0.2)),
            warmup_s=0.1,
            watched={},
            credentials=target.credentials,
        )
    except TimeoutError:
        target.broken = "no connection"
        _say(f"{target.label}: {target.broken}")
        return
    if result.ok == 0:
        target.broken = "no successful call: " + ", ".join(f"{code} x{n}" for code, n in result.errors.items())
        _say(f"{target.label}: {target.broken}")
    else:
        _say(f"warmed up {target.label}: {result.requests_per_s:.0f} req/s")


async def _measure(target: Target, concurrency: int, channels: int, args: argparse.Namespace, where: str) -> None:
    try:
        result = await measure(
            target.address,
            target.call,
            concurrency=concurrency,
            channels=channels,
            max_requests=args.requests,
            duration_s=args.duration,
            warmup_s=args.warmup,
            watched=target.watched,
            credentials=target.credentials,
        )
    except TimeoutError:
        target.broken = f"lost its connection in {where}"
        _say(f"{target.label}: {target.broken}")
        return
    target.results.setdefault((concurrency, channels), []).append(result)
    p99 = f"{result.p99_ms:.2f}" if result.p99_ms is not None else "-"
    errors = f", errors {dict(result.errors)}" if result.errors else ""
    _say(f"{where} c={concurrency} ch={channels} {target.label}: {result.requests_per_s:.0f} req/s p99 {p99} ms{errors}")


def _throughput(targets: list[Target], configs: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """One row per target and configuration: medians over rounds, and each round's ratio to that round's echo."""
    baseline = next(target for target in targets if target.key == "echo")
    rows = []
    for concurrency, channels in configs:
        echo_rounds = baseline.results.get((concurrency, channels), [])
        for target in targets:
            rounds = target.results.get((concurrency, channels), [])
            ratios = [
                mine.requests_per_s / echo_round.requests_per_s
                for mine, echo_round in zip(rounds, echo_rounds, strict=False)
                if echo_round.requests_per_s > 0
            ]
            # The same comparison by the server's CPU per call, which other load on the machine hardly moves.
            cpu_ratios = [
                theirs / mine
                for mine_round, echo_round in zip(rounds, echo_rounds, strict=False)
                if (mine := _server_us(mine_round)) and (theirs := _server_us(echo_round))
            ]
            samples = [sample for result in rounds for sample in result.samples]
            rows.append(
                {
                    "target": target.key,
                    "label": target.label,
                    "concurrency": concurrency,
                    "channels": channels,
                    "broken": target.broken,
                    "rounds": [_round(result) for result in rounds],
                    "requests_per_s": _median([r.requests_per_s for r in rounds]),
                    "p50_ms": _median([r.p50_ms for r in rounds if r.p50_ms is not None]),
                    "p99_ms": _median([r.p99_ms for r in rounds if r.p99_ms is not None]),
                    "ratio": _median(ratios),
                    "ratio_min": min(ratios, default=None),
                    "ratio_max": max(ratios, default=None),
                    "cpu_ratio": _median(cpu_ratios),
                    "cpu_ratio_min": min(cpu_ratios, default=None),
                    "cpu_ratio_max": max(cpu_ratios, default=None),
                    "server_cpu_pct": _median([r.cpu_percent(r.process_cpu_s.get("server", 0.0)) for r in rounds]),
                    "server_cpu_per_call_us": _median([u for r in rounds if (u := _server_us(r)) is not None]),
                    "deps_cpu_per_call_us": _median(
                        [u for r in rounds if (u := r.cpu_per_call_us(_deps_cpu(r))) is not None]
                    ),
                    "deps_cpu_pct": _median([r.cpu_percent(_deps_cpu(r)) for r in rounds]),
                    "client_cpu_pct": _median([r.cpu_percent(r.client_cpu_s) for r in rounds]),
                    "errors": sum(sum(r.errors.values()) for r in rounds),
                    "note": target.inspect(samples) if target.inspect is not None and samples else "",
                }
            )
    return rows


def _server_us(result: Measurement) -> float | None:
    return result.cpu_per_call_us(result.process_cpu_s.get("server", 0.0))


def _deps_cpu(result: Measurement) -> float:
    return sum(seconds for name, seconds in result.process_cpu_s.items() if name != "server")


def _round(result: Measurement) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "errors": dict(result.errors),
        "elapsed_s": round(result.elapsed_s, 3),
        "requests_per_s": round(result.requests_per_s, 1),
        "p50_ms": _rounded(result.p50_ms),
        "p99_ms": _rounded(result.p99_ms),
        "client_cpu_pct": round(result.cpu_percent(result.client_cpu_s), 1),
        "process_cpu_pct": {name: round(result.cpu_percent(s), 1) for name, s in result.process_cpu_s.items()},
        "process_cpu_per_call_us": {
            name: _rounded(result.cpu_per_call_us(s), 1) for name, s in result.process_cpu_s.items()
        },
    }


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _memory(
    idle: dict[str, tuple[int | None, int | None]], loaded: dict[str, int | None], mesh: Mesh
) -> dict[str, Any]:
    """Idle RSS/PSS of every process (echo servers and the mesh), after-load RSS, and the mesh's totals."""
    rows = []
    for role, (rss, pss) in idle.items():
        kind = "service" if role in mesh.services else "baseline" if role in ("echo", "mesh-echo") else "mesh"
        rows.append(
            {"process": role, "kind": kind, "idle_rss_kib": rss, "idle_pss_kib": pss, "loaded_rss_kib": loaded[role]}
        )

    def total(roles: list[str], column: str) -> int:
        return sum(row[column] or 0 for row in rows if row["process"] in roles)

    services = list(mesh.services)
    everything = list(mesh.processes)
    return {
        "processes": rows,
        "services_total": {"idle_rss_kib": total(services, "idle_rss_kib"), "idle_pss_kib": total(services, "idle_pss_kib")},
        "mesh_total": {
            "processes": everything,
            "idle_rss_kib": total(everything, "idle_rss_kib"),
            "idle_pss_kib": total(everything, "idle_pss_kib"),
        },
    }


async def _startup(
    args: argparse.Namespace, mesh: Mesh, echo_servers: dict[str, Any], work_dir: Path
) -> dict[str, Any]:
    """`up`'s own figures, then each process started alone (`--start-repeats` times) and timed to SERVING."""
    alone: dict[str, list[float | None]] = {name: [] for name in ["echo", "mesh-echo", *mesh.services]}
    for number in range(1, args.start_repeats + 1):
        for name, times in alone.items():
            times.append(await _time_start(name, mesh, work_dir))
        _say(f"start timing {number}/{args.start_repeats}: " + ", ".join(f"{n} {_s(t[-1])}" for n, t in alone.items()))
    rows = []
    for name, times in alone.items():
        measured = [t for t in times if t is not None]
        service = mesh.services.get(name)
        rows.append(
            {
                "process": name,
                "up_serving_after_s": service.serving_after_s if service is not None else None,
                "alone_s": _median(measured),
                "alone_min_s": min(measured, default=None),
                "alone_max_s": max(measured, default=None),
                "alone_failed": len(times) - len(measured),
            }
        )
    slowest = max(mesh.services.values(), key=lambda service: service.serving_after_s)
    return {
        "up_ready_after_s": round(mesh.ready_after_s, 2),
        "up_slowest_service": slowest.name,
        "up_slowest_serving_after_s": slowest.serving_after_s,
        "processes": rows,
    }


async def _time_start(name: str, mesh: Mesh, work_dir: Path) -> float | None:
    """Seconds from spawning `name` alone to it answering SERVING (echo: answering Echo); None if it did not."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    log_path = work_dir / f"start-{name}.log"
    began = time.monotonic()
    if name in ("echo", "mesh-echo"):
        process = _spawn_echo(port, ["--mesh"] if name == "mesh-echo" else [], log_path)
        ready = await _echo_ready(name, address)
    else:
        process = mesh.spawn_alone(name, port, log_path)
        ready = await _serving(address, mesh.services[name].grpc_service)
    took = time.monotonic() - began
    stop(process, 10.0)
    return took if ready else None


def _s(value: float | None) -> str:
    return "failed" if value is None else f"{value:.2f} s"

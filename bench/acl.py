"""`python -m bench --acl` (or `python -m bench.acl` alone): what identity and the ACL cost a unary call, and what
the Beta sidecar's hop adds.

Three processes, each its own Python process on loopback, all serving the bench echo on lucid_tron.mesh (`bench.echo
--mesh`, metrics on as under `up`):

| row | what |
|---|---|
| `plaintext, no ACL` | GRPC_INSECURE_PLAINTEXT: no TLS, and so no identity and no ACL check. **The baseline.** |
| `mTLS + ACL` | the mesh's default: mutual TLS, and the ACL policy checked on every call before the request is read |
| `through beta-sidecar` | the same mTLS + ACL echo behind `python -m lucid_tron.services.beta_sidecar` (its own mTLS to the echo, its own policy check) |
| `through beta-sidecar, undeclared` | the same, for a method no generated descriptor names: forwarded as a stream |

Beside them, the check alone (`acl check only`, in the srv us/call column): what the ACL adds to the mesh's per-call
work for an allowed call under the shipped mesh policy (read the principal, look the verdict up, count it), timed in
this process over a stand-in for grpc's call context, minus the same loop that only opens the request scope. grpc's
own `auth_context()` read is not in it (about 4 us more, measured in a handler).

The echo answers under its own name (`/bench.Echo/Echo`) and, for the sidecar to forward it as the unary call it is,
under a method of the generated descriptors (`/lucid.tron.v1.WalletService/GetWallet`; the echo does not parse it).

The client (this process) presents an operator's certificate (from a CA made in the work dir with lucid_tron.pki);
the policies allow it and the sidecar on `/bench.Echo/*` and audit only denials, as the shipped ones do. Budgets:
mTLS + ACL keeps >= 90% of the plaintext throughput (at each concurrency, median of the per-round ratios), and the
sidecar adds < 1 ms to the p50 at concurrency 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2

from bench import echo
from bench.load import Call, Measurement, measure, wait_ready
from bench.system import spawn, stop
from lucid_tron.pki import PkiDirectory, TlsFiles
from lucid_tron.testing import free_port

__all__ = ["add_arguments", "bench_acl", "bench_policy", "main", "table"]

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = b"\x2a" * 160
START_TIMEOUT_S = 30.0
ROWS = {
    "plain": "plaintext, no ACL",
    "mtls": "mTLS + ACL",
    "sidecar": "through beta-sidecar",
    "undeclared": "through beta-sidecar, undeclared",
}
#: A unary method of the generated descriptors, which the sidecar forwards on grpc's unary path.
DECLARED = "/lucid.tron.v1.WalletService/GetWallet"
POLICY = {
    "name": "bench",
    "allow_rules": [
        {
            "name": "bench-callers",
            "source": {"principals": ["spiffe://lucid/operator/bench", "spiffe://lucid/tron/beta-sidecar"]},
            "request": {"paths": [f"/{echo.SERVICE}/*", DECLARED]},
        }
    ],
    "audit_logging_options": {"audit_condition": "ON_DENY", "audit_loggers": [{"name": "stdout_logger"}]},
}


def bench_policy(folder: Path) -> Path:
    """The benchmark's ACL policy written in `folder`: the bench operator and the sidecar may call the echo."""
    path = folder / "acl-policy.json"
    path.write_text(json.dumps(POLICY))
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--acl-concurrency", default="1,64", help="calls in flight for the ACL rows (default 1,64)")


def _say(message: str) -> None:
    print(f"bench acl: {message}", file=sys.stderr, flush=True)


async def bench_acl(args: argparse.Namespace, work_dir: Path) -> dict[str, Any]:
    work_dir.mkdir(parents=True, exist_ok=True)
    pki = PkiDirectory(work_dir / "pki")
    pki.init_ca()
    echo_tls, sidecar_tls, client_tls = pki.issue_service("bench-echo"), pki.issue_service("beta-sidecar"), pki.issue_operator("bench")
    policy = bench_policy(work_dir)
    credentials = grpc.ssl_channel_credentials(
        client_tls.ca.read_bytes(), client_tls.key.read_bytes(), client_tls.certificate.read_bytes()
    )
    processes: dict[str, tuple[Any, str]] = {}
    try:
        for key in ("plain", "mtls", "sidecar"):  # "undeclared" calls the sidecar too
            port, health_port = free_port(), free_port()
            env = _environment(work_dir, key, port, health_port, policy)
            if key == "plain":
                env["GRPC_INSECURE_PLAINTEXT"] = "true"
                argv = [sys.executable, "-m", "bench.echo", "--port", str(port), "--mesh", "--also-as", DECLARED]
            else:
                env.update(_tls(echo_tls if key == "mtls" else sidecar_tls))
                if key == "mtls":
                    argv = [sys.executable, "-m", "bench.echo", "--port", str(port), "--mesh", "--also-as", DECLARED]
                else:
                    env["BACKEND_ADDR"] = f"localhost:{processes['mtls'][1].rpartition(':')[2]}"
                    env["BACKEND_SERVICE"] = echo.SERVICE
                    argv = [sys.executable, "-m", "lucid_tron.services.beta_sidecar"]
            process = spawn(argv, env=env, log_path=work_dir / f"{key}.log", cwd=ROOT)
            processes[key] = (process, f"127.0.0.1:{port}")
            probe = f"127.0.0.1:{port if key == 'plain' else health_port}"
            if not await _serving(probe):
                raise RuntimeError(f"{key} did not start; see {work_dir / (key + '.log')}")
        concurrency = sorted({int(c) for c in args.acl_concurrency.split(",")})
        results: dict[str, dict[int, list[Measurement]]] = {key: {c: [] for c in concurrency} for key in ROWS}
        for number in range(1, args.rounds + 1):
            for c in concurrency:
                for key in ROWS:
                    process, address = processes["sidecar" if key == "undeclared" else key]
                    _say(f"round {number}/{args.rounds}: {ROWS[key]} at concurrency {c}")
                    results[key][c].append(
                        await measure(
                            address,
                            Call(echo.METHOD if key == "undeclared" else DECLARED, PAYLOAD),
                            concurrency=c,
                            channels=1,
                            max_requests=args.requests,
                            duration_s=args.duration,
                            warmup_s=args.warmup,
                            watched={"server": process.pid},
                            credentials=None if key == "plain" else credentials,
                        )
                    )
    finally:
        for process, _ in reversed(processes.values()):
            stop(process, 10.0)
    summary = _summary(results, concurrency)
    summary["check_us"] = _check_cost_us()
    return summary


class _Caller:
    """What the request scope reads of a call (a grpc.aio ServicerContext has the same methods)."""

    _AUTH = {"transport_security_type": [b"ssl"], "peer_spiffe_id": [b"spiffe://lucid/tron/payout-router"]}

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return ()

    def time_remaining(self) -> float | None:
        return None

    def auth_context(self) -> dict[str, list[bytes]]:
        return self._AUTH


def _check_cost_us(calls: int = 200_000) -> float:
    """Microseconds the ACL adds to one allowed call in the mesh wrapper (principal, verdict, count)."""
    import time

    from lucid_tron.authz import PolicySource
    from lucid_tron.context._scope import open_scope
    from lucid_tron.mesh._acl import AclGate

    gate = AclGate(PolicySource(None))
    gate.enforcing = True
    method = gate.method("/lucid.tron.v1.WalletService/SignTransaction")
    caller = _Caller()
    started = time.perf_counter()
    for _ in range(calls):
        open_scope(caller, None)
    scope_only = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(calls):
        assert method.check(open_scope(caller, None)) is None
    return round(1e6 * (time.perf_counter() - started - scope_only) / calls, 2)


def _environment(work_dir: Path, key: str, port: int, health_port: int, policy: Path) -> dict[str, str]:
    env = dict(os.environ)
    secrets = work_dir / f"{key}-secrets"
    secrets.mkdir(exist_ok=True)
    env.update(
        GRPC_HOST="127.0.0.1",
        GRPC_PORT=str(port),
        HEALTH_PORT=str(health_port),
        METRICS_PORT=str(free_port()),
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
        SHUTDOWN_GRACE_S="0",
        SECRETS_DIR=str(secrets),
        ACL_POLICY_FILE=str(policy),
    )
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _tls(files: TlsFiles) -> dict[str, str]:
    return {"TLS_CERT_FILE": str(files.certificate), "TLS_KEY_FILE": str(files.key), "TLS_CA_FILE": str(files.ca)}


async def _serving(address: str) -> bool:
    probe = Call("/grpc.health.v1.Health/Check", health_pb2.HealthCheckRequest().SerializeToString())

    def serving(response: bytes) -> bool:
        return health_pb2.HealthCheckResponse.FromString(response).status == health_pb2.HealthCheckResponse.SERVING

    return await wait_ready(address, probe, serving, timeout_s=START_TIMEOUT_S)


def _summary(results: dict[str, dict[int, list[Measurement]]], concurrency: list[int]) -> dict[str, Any]:
    rows = []
    for c in concurrency:
        plain = results["plain"][c]
        for key, label in ROWS.items():
            measured = results[key][c]
            ratios = [m.requests_per_s / p.requests_per_s for m, p in zip(measured, plain) if p.requests_per_s]
            cpu_ratios = [
                cost_p / cost_m
                for m, p in zip(measured, plain)
                if (cost_m := _server_us(m)) and (cost_p := _server_us(p))
            ]
            added = [
                (m.p50_ms or 0) - (d.p50_ms or 0)
                for m, d in zip(measured, results["mtls"][c])
                if key in ("sidecar", "undeclared")
            ]
            rows.append(
                {
                    "row": label,
                    "concurrency": c,
                    "requests_per_s": _median([m.requests_per_s for m in measured]),
                    "p50_ms": _median([m.p50_ms or 0 for m in measured]),
                    "p99_ms": _median([m.p99_ms or 0 for m in measured]),
                    "vs_plain": _median(ratios),
                    "vs_plain_spread": [_round(min(ratios)), _round(max(ratios))] if ratios else None,
                    "cpu_vs_plain": _median(cpu_ratios),
                    "server_us_per_call": _median([cost for m in measured if (cost := _server_us(m)) is not None]),
                    "added_p50_ms": _median(added) if added else None,
                    "errors": sum(sum(m.errors.values()) for m in measured),
                }
            )
    by = {(row["row"], row["concurrency"]): row for row in rows}
    budgets = [
        {
            "name": f"mTLS + ACL >= 90% of plaintext req/s at concurrency {c}",
            "value": by[(ROWS["mtls"], c)]["vs_plain"],
            "status": "PASS" if (by[(ROWS["mtls"], c)]["vs_plain"] or 0) >= 0.9 else "MISS",
        }
        for c in concurrency
    ]
    if 1 in concurrency:
        added = by[(ROWS["sidecar"], 1)]["added_p50_ms"]
        budgets.append(
            {
                "name": "beta-sidecar adds < 1 ms to the p50 at concurrency 1",
                "value": added,
                "status": "PASS" if added is not None and added < 1.0 else "MISS",
            }
        )
    return {"rows": rows, "budgets": budgets}


def _server_us(result: Measurement) -> float | None:
    """The server's CPU time per successful call (the sidecar's own, for the sidecar rows), microseconds."""
    return result.cpu_per_call_us(result.process_cpu_s["server"]) if "server" in result.process_cpu_s else None


def table(results: dict[str, Any]) -> str:
    lines = [
        "| row | conc | req/s | p50 ms | p99 ms | vs plaintext (min..max) | cpu vs plaintext | srv us/call "
        "| sidecar adds p50 ms | errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        spread = row["vs_plain_spread"]
        ratio = f"{row['vs_plain']:.2f} ({spread[0]:.2f}..{spread[1]:.2f})" if spread else "-"
        added = "-" if row["added_p50_ms"] is None else f"{row['added_p50_ms']:.3f}"
        server = "-" if row["server_us_per_call"] is None else f"{row['server_us_per_call']:.0f}"
        cpu = "-" if row["cpu_vs_plain"] is None else f"{row['cpu_vs_plain']:.2f}"
        lines.append(
            f"| {row['row']} | {row['concurrency']} | {row['requests_per_s']:.0f} | {row['p50_ms']:.3f} | "
            f"{row['p99_ms']:.2f} | {ratio} | {cpu} | {server} | {added} | {row['errors']} |"
        )
    lines.append(f"| acl check only | - | - | - | - | - | - | {results['check_us']:.2f} | - | - |")
    lines += ["", *(f"{b['status']}  {b['name']}: {_fmt(b['value'])}" for b in results["budgets"])]
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _median(values: list[float]) -> float | None:
    return _round(statistics.median(values)) if values else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def main(argv: list[str] | None = None) -> int:
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m bench.acl", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=2.0, help="seconds of one measurement (default 2)")
    parser.add_argument("--requests", type=int, default=50_000, help="most calls in one measurement (default 50000)")
    parser.add_argument("--warmup", type=float, default=0.3, help="seconds of warm-up before each one (default 0.3)")
    parser.add_argument("--rounds", type=int, default=3, help="repetitions of every measurement (default 3)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    work_dir = Path(tempfile.mkdtemp(prefix="lucid-bench-acl-"))
    try:
        print(table(asyncio.run(bench_acl(args, work_dir))))
    except RuntimeError as error:
        _say(f"{error} (logs kept in {work_dir})")
        return 1
    shutil.rmtree(work_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

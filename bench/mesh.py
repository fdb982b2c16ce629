"""`lucid-tron up` as the benchmark runs it: start it, find the processes it started, read its start report, stop it.

`up` prints one row per service with the time from spawning the services to that service answering SERVING;
those rows are the "SERVING after `up` spawned it" figures (devnet and the database start before and are excluded).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.system import cmdline, descendants, environ, spawn, stop
from lucid_tron.testing import free_port

__all__ = ["FUNDED_ADDRESS", "Mesh", "MeshError", "MeshService"]

#: A valid TRON address that devnet funds at start: the account tron-client's GetAccount reads.
FUNDED_ADDRESS = "TCPrNU1gePQ5BnoGe8vg6yyDqNwmHExBEw"
_FUND = f"{FUNDED_ADDRESS}:1000000000:1000000"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0

# "tron-relay       127.0.0.1:55987  lucid.tron.v1.RelayService           1.05 s"
_SERVING_ROW = re.compile(
    r"^(?P<name>[a-z][a-z-]*)\s+(?P<address>\S+:\d+)\s+(?P<grpc>lucid\.tron\.v1\.\w+)\s+(?P<after>\d+(?:\.\d+)?) s$"
)


class MeshError(Exception):
    """Something the benchmark runs (`up`, an echo server) did not start; the message says where to look."""


@dataclass(frozen=True)
class MeshService:
    name: str
    address: str
    grpc_service: str
    #: From spawning the seven services (all at once) to this one answering SERVING, as `up` measured it.
    serving_after_s: float
    pid: int


class Mesh:
    """A running `lucid-tron up` with its own state dir and Redis."""

    def __init__(self, process: subprocess.Popen[bytes], output_path: Path, ready_after_s: float) -> None:
        self.process = process
        self.output_path = output_path
        #: From launching `up` to endpoints.json (devnet, database, Redis and all seven services up).
        self.ready_after_s = ready_after_s
        self.endpoints: dict[str, object] = {}
        self.services: dict[str, MeshService] = {}
        self.processes: dict[str, int] = {}

    @classmethod
    def start(
        cls,
        work_dir: Path,
        *,
        block_interval_s: float,
        fund: Sequence[str] = (),
        settings: Mapping[str, str] | None = None,
    ) -> Mesh:
        """`fund`: more ADDRESS:TRX_SUN:USDT_UNITS accounts for devnet's genesis. `settings`: variables for every
        service (`up` passes its environment on), e.g. RECONCILE_INTERVAL_S."""
        state_dir = work_dir / "mesh"
        output_path = work_dir / "up.out"
        argv = [
            sys.executable, "-m", "lucid_tron.cli", "up",
            "--state-dir", str(state_dir),
            "--own-redis",
            "--block-interval", f"{block_interval_s:g}",
            "--fund", _FUND,
            *(argument for spec in fund for argument in ("--fund", spec)),
            "--grace", "1",
            # The rows compare against a plaintext echo; the cost of mutual TLS is measured on its own.
            "--insecure-plaintext",
        ]  # fmt: skip
        # A MONGO_URL or REDIS_URL in the caller's shell must not point the benchmark's mesh elsewhere.
        env = {k: v for k, v in os.environ.items() if k not in {"MONGO_URL", "MONGO_URL_FILE", "REDIS_URL"}}
        env.update(settings or {})
        launched = time.monotonic()
        process = spawn(argv, env=env, log_path=output_path)
        mesh = cls(process, output_path, 0.0)
        endpoints_path = state_dir / "endpoints.json"
        while not endpoints_path.exists():
            if process.poll() is not None or time.monotonic() - launched > START_TIMEOUT_S:
                mesh.stop()
                raise MeshError(f"`lucid-tron up` did not start; its output:\n{mesh.output}")
            time.sleep(0.02)
        mesh.ready_after_s = time.monotonic() - launched
        mesh.endpoints = json.loads(endpoints_path.read_text())
        mesh.processes = mesh._find_processes()
        mesh.services = mesh._read_serving_rows()
        return mesh

    @property
    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    @property
    def devnet_url(self) -> str:
        return str(self.endpoints["devnet"]["url"])  # type: ignore[index]

    def stop(self) -> None:
        stop(self.process, STOP_TIMEOUT_S)

    def _find_processes(self) -> dict[str, int]:
        """Role ("tron-relay", "devnet", "mongo", "redis", "up", ...) -> pid of everything `up` runs."""
        found = {"up": self.process.pid}
        for pid in descendants(self.process.pid):
            found.setdefault(_role(cmdline(pid), pid), pid)
        return found

    def _read_serving_rows(self) -> dict[str, MeshService]:
        services = {}
        for line in self.output.splitlines():
            match = _SERVING_ROW.match(line.strip())
            if match is None:
                continue
            name = match["name"]
            if name not in self.processes:
                raise MeshError(f"no process of {name} below `up` (pid {self.process.pid})")
            services[name] = MeshService(
                name, match["address"], match["grpc"], float(match["after"]), self.processes[name]
            )
        if set(services) != set(self.endpoints["services"]):  # type: ignore[call-overload]
            raise MeshError(f"`up` printed SERVING rows for {sorted(services)}; its output:\n{self.output}")
        return services

    def spawn_alone(self, name: str, port: int, log_path: Path) -> subprocess.Popen[bytes]:
        """Another process of service `name`, as `up` started it (same command and environment) but on `port`
        (and other metrics and health ports)."""
        pid = self.services[name].pid
        env = environ(pid)
        env["GRPC_PORT"] = str(port)
        env["METRICS_PORT"] = str(free_port())  # the running one holds its own
        env["HEALTH_PORT"] = str(free_port())
        env["SHUTDOWN_GRACE_S"] = "0"
        return spawn(cmdline(pid), env=env, log_path=log_path)


def _role(argv: list[str], pid: int) -> str:
    if "-m" in argv[:-1]:
        module = argv[argv.index("-m") + 1]
        if module.startswith("lucid_tron.services."):
            return module.rpartition(".")[2].replace("_", "-")
        if module == "lucid_tron.devnet":
            return "devnet"
    names = [Path(part).name for part in argv[:2]]
    if any(name.startswith("secantusd") for name in names):
        return "mongo"
    if any(name.startswith("redis-server") for name in names):
        return "redis"
    return f"other:{names[0] if names else '?'}:{pid}"

"""`lucid-tron up --tor` as a subprocess, and what the Tor end-to-end tests do with it: gRPC calls that record their
outcome and latency, a tron-client process of the tests' own started under strace, strace attached to the mesh's
service processes, and the owners of TCP connections (from /proc).

How a test crashes and restarts Tor under the running mesh: the client tor's pid is in endpoints.json
("tor"."pids"."client"); the test SIGKILLs it (a crash, not a clean stop), then sends SIGUSR1 to `up`
("tor"."up_pid"), which starts the same client again: same torrc, ports and data dir, still a child of `up`, so `up`
stops it at the end like everything else. Neither the services nor devnet are touched.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from e2e.e2e_up import Up, descendants_of, lucid_tron_command, up_environment
from integration.mesh.mesh_testkit import details_of
from lucid.tron.v1 import common_pb2, tron_client_pb2, tron_client_pb2_grpc
from lucid_tron.chain import PrivateKey

TRON_CLIENT = "lucid.tron.v1.TronClientService"
BLOCK_INTERVAL_S = 0.5
# A Tor health check every 2 s while Tor is up (the default is 60): NOT_SERVING must show within one interval.
HEALTH_CHECK_INTERVAL_S = 2.0
START_TIMEOUT_S = 90.0  # the Tor network's ~10 s boot, next to devnet and the databases, then the seven services

PAYER = PrivateKey(bytes.fromhex("5f1c2b3a" * 8))
PAYER_TRX_SUN = 50_000_000_000


def start_up_with_tor(state_dir: Path) -> Up:
    """Run `lucid-tron up --tor` and return once it wrote endpoints.json (all seven SERVING through Tor)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    output_path = state_dir.parent / f"{state_dir.name}-up.out"
    argv = [
        *lucid_tron_command(), "up", "--tor",
        "--state-dir", str(state_dir),
        "--own-redis",
        "--block-interval", str(BLOCK_INTERVAL_S),
        "--fund", f"{PAYER.address}:{PAYER_TRX_SUN}:0",
        "--grace", "2",
    ]  # fmt: skip
    env = up_environment() | {"TOR_HEALTH_CHECK_INTERVAL": str(HEALTH_CHECK_INTERVAL_S)}
    with open(output_path, "wb") as output:
        process = subprocess.Popen(argv, env=env, stdout=output, stderr=subprocess.STDOUT)
    up = Up(process, state_dir, output_path, {})
    endpoints_path = state_dir / "endpoints.json"
    deadline = time.monotonic() + START_TIMEOUT_S
    while not endpoints_path.exists():
        if process.poll() is not None:
            raise AssertionError(f"`lucid-tron up --tor` exited with {process.returncode} while starting:\n{up.output}")
        if time.monotonic() > deadline:
            up.stop()
            raise AssertionError(f"no endpoints.json {START_TIMEOUT_S} s after `lucid-tron up --tor`:\n{up.output}")
        time.sleep(0.05)
    up.endpoints = read_endpoints(up)
    return up


def read_endpoints(up: Up) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((up.state_dir / "endpoints.json").read_text())
    return data


def service_pids(up: Up) -> dict[str, int]:
    """pid of each service process below `up`, by service name (from their command lines)."""
    found = {}
    for pid in descendants_of(up.process.pid):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for arg in argv:
            text = arg.decode(errors="replace")
            if text.startswith("lucid_tron.services."):
                found[text.removeprefix("lucid_tron.services.").replace("_", "-")] = pid
    return found


# -- calls -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One RPC: its status code name ("OK" when it answered), how long it took, the message and ErrorInfo reason of
    an error."""

    code: str
    ms: float
    at: float  # time.monotonic() when it was sent
    details: str = ""
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.code == "OK"


class TronClientCaller:
    """GetNowBlock, GetAccount and health of one tron-client, each call recorded as an Outcome."""

    def __init__(self, address: str, credentials: grpc.ChannelCredentials | None = None) -> None:
        """`credentials`: an operator's mutual TLS for a service `up` started; None for a plaintext one."""
        self.address = address
        self.channel = (
            grpc.aio.insecure_channel(address)
            if credentials is None
            else grpc.aio.secure_channel(address, credentials)
        )
        self.stub = tron_client_pb2_grpc.TronClientServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    async def now_block(self, timeout_s: float = 10.0) -> Outcome:
        request = tron_client_pb2.GetNowBlockRequest(finality=common_pb2.FINALITY_HEAD)
        return await self._timed(self.stub.GetNowBlock(request, timeout=timeout_s))

    async def account(self, address: str, timeout_s: float = 10.0) -> Outcome:
        request = tron_client_pb2.GetAccountRequest(address=address)
        return await self._timed(self.stub.GetAccount(request, timeout=timeout_s))

    async def serving(self) -> bool:
        try:
            answer = await self.health.Check(health_pb2.HealthCheckRequest(service=TRON_CLIENT), timeout=2)
        except grpc.aio.AioRpcError:
            return False
        return answer.status == health_pb2.HealthCheckResponse.SERVING

    async def wait_serving(self, serving: bool, timeout_s: float) -> float:
        """Seconds until health says `serving`; AssertionError after `timeout_s`."""
        began = time.monotonic()
        while await self.serving() != serving:
            if time.monotonic() - began > timeout_s:
                wanted = "SERVING" if serving else "NOT_SERVING"
                raise AssertionError(f"{self.address}: health not {wanted} within {timeout_s} s")
            await asyncio.sleep(0.05)
        return time.monotonic() - began

    async def close(self) -> None:
        await self.channel.close()

    async def _timed(self, call: Any) -> Outcome:
        began = time.monotonic()
        try:
            await call
        except grpc.aio.AioRpcError as error:
            ms = (time.monotonic() - began) * 1000
            status = rpc_status.from_call(error)  # None for an error raised by the client (a deadline)
            info = details_of(status).get("ErrorInfo") if status is not None else None
            reason = str(getattr(info, "reason", ""))
            return Outcome(error.code().name, ms, began, error.details() or "", reason)
        return Outcome("OK", (time.monotonic() - began) * 1000, began)


# -- processes under strace ------------------------------------------------------------------------------------------


def tracer_pid(pid: int) -> int:
    """The pid tracing `pid` (0: none), from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("TracerPid:"):
            return int(line.split()[1])
    return 0


@dataclass
class AttachedStrace:
    """strace attached to running processes (every thread: -f), tracing the calls that address a destination."""

    process: subprocess.Popen[bytes]
    trace_path: Path
    pids: list[int]

    @classmethod
    def attach(cls, pids: Sequence[int], trace_path: Path, syscalls: str, timeout_s: float = 10.0) -> AttachedStrace:
        argv = ["strace", "-f", "-ttt", "-qq", "-e", "signal=none", "-e", f"trace={syscalls}", "-o", str(trace_path)]
        for pid in pids:
            argv += ["-p", str(pid)]
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout_s
        while not all(tracer_pid(pid) == process.pid for pid in pids):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"strace did not attach to {list(pids)}: {process.communicate()[1]!r}")
            time.sleep(0.02)
        return cls(process, trace_path, list(pids))

    def detach(self) -> None:
        """SIGINT: strace detaches from every process (they keep running) and exits."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        self.process.wait(15)


@dataclass
class TracedService:
    """A service process started under strace (`strace_command`), its log in a file."""

    process: subprocess.Popen[bytes]
    trace_path: Path
    log_path: Path
    address: str

    @property
    def service_pid(self) -> int:
        """The python process strace runs (its only child)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        assert len(children) == 1, children
        return int(children[0])

    def stop(self) -> int:
        """SIGTERM to the service (not to strace, which would detach and leave it running); the service's exit."""
        if self.process.poll() is None:
            os.kill(self.service_pid, signal.SIGTERM)
        try:
            return self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the traced service did not stop; log {self.log_path}") from None


def clean_service_env(**values: str) -> dict[str, str]:
    """This process's environment without any service setting (so nothing of the caller's shell leaks in), + values."""
    ours = ("GRPC_", "TLS_", "HEALTH_", "OTEL_", "LOG_", "TRONGRID_", "REDIS_", "MONGO_", "TOR_", "USE_TOR", "ALLOW_DIRECT", "CACHE_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(ours)}
    env.update(values)
    return env


# -- who holds a TCP connection ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TcpConnection:
    local_port: int
    remote_port: int
    pid: int | None


def loopback_tcp_connections_to(port: int) -> list[TcpConnection]:
    """Established IPv4 TCP connections whose remote end is 127.0.0.1:`port`, with the pid owning each socket."""
    wanted: dict[str, tuple[int, int]] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        remote_address, remote_port = remote.split(":")
        if state == "01" and remote_address == "0100007F" and int(remote_port, 16) == port:
            wanted[inode] = (int(local.split(":")[1], 16), port)
    owners: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and (inode := target[8:-1]) in wanted:
                    owners.setdefault(inode, int(entry.name))
        except OSError:
            continue  # exited meanwhile, or not ours to read
    return [TcpConnection(local, remote, owners.get(inode)) for inode, (local, remote) in wanted.items()]


@dataclass
class Timeline:
    """What happened to one tron-client during the outage, in seconds from the event that matters."""

    name: str
    pid: int
    before: list[Outcome] = field(default_factory=list)
    not_serving_after_kill_s: float | None = None
    while_down: list[Outcome] = field(default_factory=list)
    serving_after_restart_s: float | None = None
    first_read_after_restart_s: float | None = None
    after: list[Outcome] = field(default_factory=list)
    pid_after: int | None = None


def python() -> str:
    return sys.executable

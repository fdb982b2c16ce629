"""Running `lucid-tron up` as a subprocess, the way a developer does, and looking at the processes it started."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

FUNDED_ADDRESS = "TCPrNU1gePQ5BnoGe8vg6yyDqNwmHExBEw"
FUNDED_TRX_SUN = 12_345_000_000
FUNDED_USDT_UNITS = 678_000_000
BLOCK_INTERVAL_S = 0.5
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


def lucid_tron_command() -> list[str]:
    """The installed console script (what a developer types), else the module."""
    script = Path(sys.executable).parent / "lucid-tron"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "lucid_tron.cli"]


def up_environment() -> dict[str, str]:
    """The test's environment without anything that would point `up` at another database, Redis or state dir."""
    ignored = {"MONGO_URL", "MONGO_URL_FILE", "REDIS_URL", "REDIS_URL_FILE", "LUCID_STATE_DIR"}
    return {key: value for key, value in os.environ.items() if key not in ignored}


@dataclass
class Up:
    """A running `lucid-tron up`: its process, state dir, combined output and (once serving) endpoints."""

    process: subprocess.Popen[bytes]
    state_dir: Path
    output_path: Path
    endpoints: dict[str, Any]

    @property
    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def descendants(self) -> dict[int, str]:
        """Every process below `up` now: pid -> its start time (to tell a reused pid from the same process)."""
        return descendants_of(self.process.pid)

    def stop(self) -> int:
        """SIGTERM, as systemd or a terminal's Ctrl-C would; the exit code (killed after STOP_TIMEOUT_S)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"`lucid-tron up` did not stop within {STOP_TIMEOUT_S} s:\n{self.output}") from None


def sharing_database_of(mesh: Up, state_dir: Path) -> list[str]:
    """`up` options for a second mesh on `mesh`'s database and Redis (only devnet and the services start); its state
    dir gets `mesh`'s wallet master secret and webhook key, the ones that open what that database holds sealed."""
    (state_dir / "secrets").mkdir(parents=True, exist_ok=True)
    for name in ("wallet_master_key", "webhook_secrets_key"):
        shutil.copy2(mesh.state_dir / "secrets" / name, state_dir / "secrets")
    return ["--mongo-url", mesh.endpoints["mongo_url"], "--redis-url", mesh.endpoints["redis_url"]]


def start_up(state_dir: Path, extra_args: Sequence[str] = ()) -> Up:
    """Run `lucid-tron up` and return once it wrote endpoints.json (all seven SERVING)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    output_path = state_dir.parent / f"{state_dir.name}-up.out"
    argv = [
        *lucid_tron_command(), "up",
        "--state-dir", str(state_dir),
        "--block-interval", str(BLOCK_INTERVAL_S),
        "--fund", f"{FUNDED_ADDRESS}:{FUNDED_TRX_SUN}:{FUNDED_USDT_UNITS}",
        "--grace", "2",
        *extra_args,
    ]  # fmt: skip
    with open(output_path, "wb") as output:
        process = subprocess.Popen(argv, env=up_environment(), stdout=output, stderr=subprocess.STDOUT)
    up = Up(process, state_dir, output_path, {})
    endpoints_path = state_dir / "endpoints.json"
    deadline = time.monotonic() + START_TIMEOUT_S
    while not endpoints_path.exists():
        if process.poll() is not None:
            raise AssertionError(f"`lucid-tron up` exited with {process.returncode} while starting:\n{up.output}")
        if time.monotonic() > deadline:
            up.stop()
            raise AssertionError(f"no endpoints.json {START_TIMEOUT_S} s after `lucid-tron up`:\n{up.output}")
        time.sleep(0.05)
    up.endpoints = json.loads(endpoints_path.read_text())
    return up


def descendants_of(root: int) -> dict[int, str]:
    parents: dict[int, int] = {}
    started: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        # Fields after the parenthesised command name (which may itself contain spaces or parentheses).
        fields = stat.rsplit(")", 1)[1].split()
        parents[int(entry.name)] = int(fields[1])
        started[int(entry.name)] = fields[19]
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = started[pid]
                frontier.append(pid)
    return found


def still_running(processes: dict[int, str]) -> list[str]:
    """The processes of `processes` that still exist (same pid, same start time), with their command lines."""
    alive = []
    for pid, start_time in processes.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if fields[19] == start_time and fields[0] != "Z":
            alive.append(f"{pid}: {cmdline}")
    return alive


def operator_credentials(endpoints: dict[str, Any]) -> grpc.ChannelCredentials:
    """An operator's mutual TLS, from the files endpoints.json names under "tls" (as grpcurl and buf curl use them)."""
    tls = endpoints["tls"]
    return grpc.ssl_channel_credentials(
        root_certificates=Path(tls["ca"]).read_bytes(),
        private_key=Path(tls["operator_key"]).read_bytes(),
        certificate_chain=Path(tls["operator_cert"]).read_bytes(),
    )

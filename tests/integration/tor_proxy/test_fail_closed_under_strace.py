"""The fail-closed proof, at the library level: a process that reads TronGrid through TorRuntime (tor_read_loop.py),
traced by strace, contacts nothing but Tor's SOCKS and control ports and sends no DNS query, while Tor works, after
tor is killed under it, and while tor restarts. Its reads fail fast while Tor is down and come back afterwards.

The same check on the real service processes only needs another command line: see connect_trace.py.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from connect_trace import assert_contacted_only, dns_contacts, parse_strace, strace_available, strace_command

pytestmark = [
    pytest.mark.tor,
    pytest.mark.skipif(not strace_available(), reason="strace is not installed (apt-get install -y strace)"),
]

READ_LOOP = Path(__file__).with_name("tor_read_loop.py")
# Tor refused at the SOCKS port or by the monitor; a read cut when tor died; TronGridClient's breaker, opened by those.
UNAVAILABLE_REASONS = {"TOR_PROXY_UNAVAILABLE", "TRONGRID_CONNECTION_FAILED", "TRONGRID_CIRCUIT_OPEN"}


class ReadLoop:
    """tor_read_loop.py under strace; its JSON lines as they come."""

    def __init__(self, argv: list[str], trace_path: Path) -> None:
        self.records: list[dict[str, object]] = []
        self.process = subprocess.Popen(
            strace_command(argv, trace_path),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("{"):
                self.records.append(json.loads(line))

    def reads(self, *, ok: bool, since: float, until: float = float("inf")) -> list[dict[str, object]]:
        records = list(self.records)
        return [r for r in records if r.get("ok") is ok and since <= float(r["t"]) < until]  # type: ignore[arg-type]

    async def wait_for(self, *, ok: bool, since: float, count: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.reads(ok=ok, since=since)) < count:
            if self.process.poll() is not None:
                assert self.process.stderr is not None
                error = self.process.stderr.read()
                raise AssertionError(f"the read loop exited with {self.process.returncode}: {error}")
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {count} reads with ok={ok} within {timeout_s} s: {self.records[-5:]}")
            await asyncio.sleep(0.05)

    def stop(self) -> dict[str, object]:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(30)
        self._reader.join(5)
        return next((r for r in self.records if r.get("done")), {})


async def test_a_trongrid_reader_contacts_only_tor_in_normal_operation_with_tor_killed_and_during_its_restart(
    tor_network, devnet, tmp_path
):
    devnet_port = urlsplit(devnet.url).port
    trace_path = tmp_path / "connect.trace"
    loop = ReadLoop(
        [
            sys.executable, str(READ_LOOP),
            "--socks-port", str(tor_network.socks_port),
            "--control-port", str(tor_network.control_port),
            "--url", f"http://trongrid.test:{devnet_port}",
            "--interval", "0.1",
        ],
        trace_path,
    )  # fmt: skip
    try:
        began = time.monotonic()
        await loop.wait_for(ok=True, since=began, count=10, timeout_s=60)

        tor_network.kill_client()
        killed, killed_wall = time.monotonic(), time.time()
        await loop.wait_for(ok=False, since=killed, count=10, timeout_s=10)

        await asyncio.to_thread(tor_network.start_client, wait=False)
        restarted, restarted_wall = time.monotonic(), time.time()
        await loop.wait_for(ok=True, since=restarted, count=10, timeout_s=60)
        recovered = min(float(r["t"]) for r in loop.reads(ok=True, since=restarted))  # type: ignore[arg-type]
    finally:
        if not tor_network.client_running:
            await asyncio.to_thread(tor_network.start_client)
        summary = loop.stop()
    await asyncio.to_thread(tor_network.wait_ready)

    contacts = parse_strace(trace_path.read_text())
    socks, control = ("127.0.0.1", tor_network.socks_port), ("127.0.0.1", tor_network.control_port)
    # The trace saw the whole story, the time tor was down included: the process kept trying, and only tor.
    assert any(c.endpoint == socks for c in contacts)
    while_down = [c for c in contacts if c.at is not None and killed_wall <= c.at < restarted_wall]
    assert any(c.endpoint == socks for c in while_down)
    assert_contacted_only(contacts, allowed={socks, control})
    assert dns_contacts(contacts, extra_ports=[tor_network.dns_port]) == []
    assert not any(c.port == devnet_port for c in contacts)

    down = loop.reads(ok=False, since=killed, until=restarted)
    assert {r["error"] for r in down} == {"TronGridTorUnavailable"}
    assert {r["reason"] for r in down} <= UNAVAILABLE_REASONS
    down_ms = [float(r["ms"]) for r in down]  # type: ignore[arg-type]
    assert max(down_ms) < 500
    stats = summary.get("stats", {})
    print(
        f"MEASURED strace run: {len(contacts)} contacts ({len(while_down)} while tor was down), all to SOCKS "
        f"{socks[1]} or control {control[1]}; "
        f"{len(down)} reads with tor down: median {statistics.median(down_ms):.1f} ms, max {max(down_ms):.1f} ms; "
        f"tor spawned -> first good read {recovered - restarted:.2f} s; stats {stats}"
    )

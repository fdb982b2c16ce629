"""A service process: starts from its environment, logs JSON, and on SIGTERM goes NOT_SERVING, drains, exits 0."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lucid_tron.mesh import EXIT_CONFIG

TESTS_DIR = Path(__file__).resolve().parents[2]
MODULE = "integration.mesh.mesh_example_service"
GRACE_S = 3.0
# An idle service must leave room under the 60 MB each service may use on a Pi.
IDLE_RSS_BUDGET_MB = 60


def service_env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("GRPC_", "OTEL_", "LOG_"))}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(TESTS_DIR), env.get("PYTHONPATH")])),
        SECRETS_DIR=str(tmp_path),
        GRPC_PORT="0",
        GRPC_INSECURE_PLAINTEXT="true",  # mutual TLS has its own process tests (tests/integration/pki)
        SHUTDOWN_GRACE_S=str(GRACE_S),
        EXAMPLE_STOP_MARKER=str(tmp_path / "stopped"),
    )
    env.update(values)
    return env


@dataclass
class Running:
    process: asyncio.subprocess.Process
    address: str
    log: list[dict[str, Any]]

    async def read_log_until_exit(self) -> None:
        assert self.process.stderr is not None
        async for line in self.process.stderr:
            self.log.append(json.loads(line))
        await self.process.wait()


async def start(tmp_path: Path, **values: str) -> Running:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", MODULE, env=service_env(tmp_path, **values), stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    log: list[dict[str, Any]] = []
    async with asyncio.timeout(15):
        while "address" not in (log[-1] if log else {}):
            line = await process.stderr.readline()
            assert line, f"the service exited before serving: {log}"
            log.append(json.loads(line))
    return Running(process, log[-1]["address"], log)


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Running]:
    running = await start(tmp_path)
    yield running
    if running.process.returncode is None:
        running.process.kill()
        await running.process.wait()


async def test_sigterm_goes_not_serving_lets_calls_finish_and_exits_zero(service: Running, tmp_path: Path) -> None:
    async with grpc.aio.insecure_channel(service.address) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""))
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
        in_flight = asyncio.ensure_future(channel.unary_unary("/test.mesh.Example/Slow")(b""))
        await asyncio.sleep(0.2)  # the call has reached the servicer

        loop = asyncio.get_running_loop()
        signalled_at = loop.time()
        service.process.send_signal(signal.SIGTERM)
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
        assert await in_flight == b"done"
        await asyncio.wait_for(service.read_log_until_exit(), timeout=GRACE_S + 2)
        exited_after = loop.time() - signalled_at

    assert service.process.returncode == 0
    assert exited_after < GRACE_S
    assert (tmp_path / "stopped").read_text() == "stopped"
    messages = [line["msg"] for line in service.log]
    assert "received SIGTERM" in messages
    assert messages[-1] == "stopped"
    assert all(line["service"] == "example" for line in service.log)


async def test_sigint_stops_the_service_too(service: Running) -> None:
    service.process.send_signal(signal.SIGINT)
    await asyncio.wait_for(service.read_log_until_exit(), timeout=GRACE_S + 2)
    assert service.process.returncode == 0


async def test_a_configuration_error_exits_78_naming_every_bad_variable(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        MODULE,
        env=service_env(tmp_path, GRPC_PORT="fifty", EXAMPLE_SLOW_CALL_S="-1", LOG_FORMAT="xml"),
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=15)
    assert process.returncode == EXIT_CONFIG
    message = stderr.decode()
    assert message.startswith(f"{MODULE}: invalid configuration (3 problem(s)):")
    for variable in ("GRPC_PORT", "EXAMPLE_SLOW_CALL_S", "LOG_FORMAT"):
        assert f"\n  {variable}: " in message


async def test_the_start_line_shows_the_settings(service: Running) -> None:
    [starting] = [line for line in service.log if line["msg"] == "starting example"]
    assert starting["settings"]["shutdown_grace_s"] == GRACE_S


async def test_an_idle_service_stays_within_its_memory_budget(tmp_path: Path) -> None:
    running = await start(tmp_path, EXAMPLE_WITH_SERVICE="false")
    try:
        async with grpc.aio.insecure_channel(running.address) as channel:
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        status = Path(f"/proc/{running.process.pid}/status").read_text()
        rss_kb = int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])
        assert rss_kb / 1024 < IDLE_RSS_BUDGET_MB
    finally:
        running.process.terminate()
        await running.read_log_until_exit()

"""`python -m lucid_tron.healthcheck`, the probe compose runs in a shell-less image, exits 0 only for SERVING.

The server requires mutual TLS on its service port, as deployed; the probe asks the plaintext health port."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from fixtures.pki import TEST_SERVICE, tls_fields
from integration.mesh.mesh_testkit import generic_service, unary_unary
from lucid_tron.mesh import MeshServer, ServiceSettings, ServiceSpec, serving
from lucid_tron.pki import PkiDirectory
from lucid_tron.testing import free_port

SERVICE = "test.healthcheck.Payments"


async def pong(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    return b"pong"


@pytest.fixture
async def server(mesh_pki: PkiDirectory) -> AsyncIterator[MeshServer]:
    spec = ServiceSpec(name="healthcheck-test", services=[generic_service(SERVICE, {"Ping": unary_unary(pong)})])
    settings = ServiceSettings(port=0, health_port=0, **tls_fields(mesh_pki.files("services", TEST_SERVICE)))
    async with serving(spec, settings) as running:
        yield running


async def probe(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lucid_tron.healthcheck", *args, stderr=asyncio.subprocess.PIPE, env=env
    )
    _, stderr = await process.communicate()
    return process.returncode, stderr.decode()


async def test_a_serving_service_exits_0(server: MeshServer) -> None:
    assert await probe(SERVICE, "--port", str(server.health_port)) == (0, "")


async def test_the_whole_server_is_asked_about_when_no_service_is_named(server: MeshServer) -> None:
    code, _ = await probe("--port", str(server.health_port))
    assert code == 0


async def test_a_service_whose_dependency_is_down_exits_1_saying_not_serving(server: MeshServer) -> None:
    await server.health.reporter("tor").set_serving(False, "bootstrapping")
    code, stderr = await probe(SERVICE, "--port", str(server.health_port))
    assert code == 1 and "NOT_SERVING" in stderr


async def test_an_unknown_service_exits_1_naming_not_found(server: MeshServer) -> None:
    code, stderr = await probe("no.such.Service", "--port", str(server.health_port))
    assert code == 1 and "NOT_FOUND" in stderr


async def test_nothing_listening_exits_1_within_the_timeout() -> None:
    code, stderr = await probe(SERVICE, "--port", str(free_port()), "--timeout", "1")
    assert code == 1
    assert "UNAVAILABLE" in stderr or "DEADLINE_EXCEEDED" in stderr


async def test_the_health_port_is_taken_from_health_port_before_grpc_port(server: MeshServer) -> None:
    env = {**os.environ, "HEALTH_PORT": str(server.health_port), "GRPC_PORT": str(server.port)}
    assert await probe(SERVICE, env=env) == (0, "")


async def test_the_mtls_service_port_does_not_answer_a_plaintext_probe(server: MeshServer) -> None:
    code, stderr = await probe(SERVICE, "--port", str(server.port), "--timeout", "2")
    assert code == 1 and "UNAVAILABLE" in stderr

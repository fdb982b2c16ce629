"""`lucid-tron status` asks each service's grpc.health.v1 and exits 0 only when every one is SERVING.

The services here are real grpc.aio servers in this process (the mesh's `serving`), one per state, with mutual TLS
on their service port as `up` runs them: status asks their plaintext health port.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fixtures.pki import TEST_SERVICE, tls_fields
from lucid_tron.cli import main
from lucid_tron.cli._endpoints import Endpoints
from lucid.tron.v1 import payment_gateway_pb2_grpc
from lucid_tron.mesh import MeshServer, Registration, ServiceSettings, ServiceSpec, serving
from lucid_tron.pki import PkiDirectory
from lucid_tron.services.payment_gateway.messages import SERVICE_NAME
from lucid_tron.testing import free_port


@pytest.fixture
async def gateway(mesh_pki: PkiDirectory) -> AsyncIterator[MeshServer]:
    # Only its health matters here: the generated base servicer stands in for payment-gateway's.
    servicer = payment_gateway_pb2_grpc.PaymentGatewayServiceServicer()
    add = payment_gateway_pb2_grpc.add_PaymentGatewayServiceServicer_to_server
    spec = ServiceSpec(name="payment-gateway", services=[Registration(add, servicer, SERVICE_NAME)])
    settings = ServiceSettings(port=0, health_port=0, **tls_fields(mesh_pki.files("services", TEST_SERVICE)))
    async with serving(spec, settings) as server:
        yield server


def write_endpoints(state_dir: Path, services: dict[str, tuple[str, str | None]]) -> None:
    """`services`: name -> (service address, health address)."""
    Endpoints(
        services={name: address for name, (address, _) in services.items()},
        health={name: health or address for name, (address, health) in services.items()},
        tls=None,
        devnet_url="http://127.0.0.1:1",
        usdt_contract="TBEKPf4ob4ZU4nfxbMSSZy3tuc4aLuPNPg",
        mongo_url="mongodb://127.0.0.1:2",
        redis_url="redis://127.0.0.1:3/0",
        metrics={},
    ).write(state_dir)


async def status(state_dir: Path) -> int:
    # main runs its own event loop: give it a thread of its own.
    return await asyncio.to_thread(main, ["status", "--state-dir", str(state_dir), "--timeout", "1"])


async def test_all_serving_exits_zero(gateway: MeshServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_endpoints(tmp_path, {"payment-gateway": (gateway.address, gateway.health_address)})
    assert await status(tmp_path) == 0
    out = capsys.readouterr().out
    assert f"payment-gateway  {gateway.address}  SERVING" in out
    assert "1/1 SERVING" in out


async def test_a_service_nobody_answers_for_is_unreachable_and_fails(
    gateway: MeshServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nobody = f"127.0.0.1:{free_port()}"
    write_endpoints(
        tmp_path, {"payment-gateway": (gateway.address, gateway.health_address), "staking": (nobody, None)}
    )
    assert await status(tmp_path) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("staking") and line.endswith("UNREACHABLE") for line in lines)
    assert "1/2 SERVING" in lines


async def test_another_service_on_the_port_is_service_unknown(
    gateway: MeshServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_endpoints(tmp_path, {"payout-router": (gateway.address, gateway.health_address)})
    assert await status(tmp_path) == 1
    assert "SERVICE_UNKNOWN" in capsys.readouterr().out


async def test_a_service_shutting_down_is_not_serving(
    gateway: MeshServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_endpoints(tmp_path, {"payment-gateway": (gateway.address, gateway.health_address)})
    await gateway.health.enter_graceful_shutdown()
    assert await status(tmp_path) == 1
    assert "NOT_SERVING" in capsys.readouterr().out


async def test_without_a_running_up_it_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert await status(tmp_path) == 1
    assert "is `lucid-tron up --state-dir" in capsys.readouterr().err

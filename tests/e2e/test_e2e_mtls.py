"""The mesh `lucid-tron up` runs requires mutual TLS: an operator gets in with the certificate endpoints.json names
(from Python, and with buf curl as the README shows), a plaintext caller does not, and probes use the plaintext
health ports. `lucid-tron pki --state-dir` issues more certificates from the CA `up` keeps there."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from e2e.e2e_up import (
    Up,
    lucid_tron_command,
    operator_credentials,
    sharing_database_of,
    start_up,
    up_environment,
)
from lucid.tron.v1 import common_pb2, relay_pb2, relay_pb2_grpc
from lucid_tron.cli._services import MESH

pytestmark = pytest.mark.e2e

#: buf-bin's buf, installed beside this Python (the [dev] extra).
BUF = Path(sys.executable).parent / "buf"


def test_endpoints_json_names_exactly_the_ca_and_the_operators_certificate_and_key(mesh: Up) -> None:
    tls = mesh.endpoints["tls"]
    assert set(tls) == {"ca", "operator_cert", "operator_key"}
    assert all(Path(path).is_file() for path in tls.values())
    assert stat.S_IMODE(Path(tls["operator_key"]).stat().st_mode) == 0o600
    assert list(mesh.endpoints["health"]) == [service.name for service in MESH]


def test_the_ca_key_stays_in_the_state_dir_readable_by_its_owner_only(mesh: Up) -> None:
    assert stat.S_IMODE((mesh.state_dir / "pki" / "ca-key.pem").stat().st_mode) == 0o600


@pytest.mark.parametrize("name", [service.name for service in MESH])
async def test_every_service_answers_health_in_plaintext_on_its_health_port(mesh: Up, name: str) -> None:
    async with grpc.aio.insecure_channel(mesh.endpoints["health"][name]) as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_a_plaintext_caller_gets_nothing_from_a_service_port(mesh: Up) -> None:
    async with grpc.aio.insecure_channel(mesh.endpoints["services"]["tron-relay"]) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE


async def test_a_tls_caller_without_a_client_certificate_gets_nothing(mesh: Up) -> None:
    ca = Path(mesh.endpoints["tls"]["ca"]).read_bytes()
    credentials = grpc.ssl_channel_credentials(root_certificates=ca)
    async with grpc.aio.secure_channel(mesh.endpoints["services"]["tron-relay"], credentials) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE


async def test_refused_handshakes_leave_the_services_log_json_only(mesh: Up) -> None:
    address = mesh.endpoints["services"]["payout-router"]
    without_certificate = grpc.ssl_channel_credentials(Path(mesh.endpoints["tls"]["ca"]).read_bytes())
    for opened in (grpc.aio.insecure_channel(address), grpc.aio.secure_channel(address, without_certificate)):
        async with opened as channel:
            with pytest.raises(grpc.aio.AioRpcError):
                await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    lines = (mesh.state_dir / "logs" / "payout-router.log").read_text().splitlines()
    assert [line for line in lines if not line.startswith("{")] == []


async def test_the_operator_certificate_reaches_a_service_by_localhost_too(mesh: Up) -> None:
    address = mesh.endpoints["services"]["tron-relay"].replace("127.0.0.1", "localhost")
    async with grpc.aio.secure_channel(address, operator_credentials(mesh.endpoints)) as channel:
        answer = await relay_pb2_grpc.RelayServiceStub(channel).GetNowBlock(
            relay_pb2.RelayServiceGetNowBlockRequest(finality=common_pb2.FINALITY_HEAD), timeout=10
        )
    assert len(answer.block.block_id) == 64


def buf_curl(mesh: Up, *args: str, operator: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    tls = operator or mesh.endpoints["tls"]
    argv = [str(BUF), "curl", "--protocol", "grpc", "--cacert", tls["ca"], "--cert", tls["operator_cert"]]
    return subprocess.run(
        [*argv, "--key", tls["operator_key"], *args], capture_output=True, text=True, timeout=30, check=False
    )


def test_buf_curl_with_the_operator_certificate_calls_a_service_through_reflection(mesh: Up) -> None:
    address = mesh.endpoints["services"]["tron-relay"]
    url = f"https://{address}/lucid.tron.v1.RelayService/GetNowBlock"
    done = buf_curl(mesh, "-d", '{"finality": "FINALITY_HEAD"}', url)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["block"]["blockId"]) == 64


def test_buf_curl_lists_the_methods_of_a_service(mesh: Up) -> None:
    done = buf_curl(mesh, "--list-methods", f"https://{mesh.endpoints['services']['wallet-manager']}")
    assert done.returncode == 0, done.stderr
    assert f"{reflection.SERVICE_NAME}/ServerReflectionInfo" in done.stdout.split()


def test_pki_issues_an_operator_certificate_the_running_mesh_accepts(mesh: Up) -> None:
    issued = subprocess.run(
        [*lucid_tron_command(), "pki", "--state-dir", str(mesh.state_dir), "issue-operator", "e2e-bob"],
        env=up_environment(), capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    folder = mesh.state_dir / "pki" / "operators" / "e2e-bob"
    bob = {
        "ca": str(folder / "ca.pem"),
        "operator_cert": str(folder / "cert.pem"),
        "operator_key": str(folder / "key.pem"),
    }
    address = mesh.endpoints["services"]["tron-client"]
    done = buf_curl(mesh, "-d", "{}", f"https://{address}/grpc.health.v1.Health/Check", operator=bob)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"status": "SERVING"}


async def test_up_insecure_plaintext_serves_plaintext_and_every_service_warns(mesh: Up, tmp_path: Path) -> None:
    # A second `up` of its own, sharing the session's database and Redis so that only devnet and the services start.
    plaintext = start_up(tmp_path / "state", ["--insecure-plaintext", *sharing_database_of(mesh, tmp_path / "state")])
    try:
        assert "tls" not in plaintext.endpoints
        async with grpc.aio.insecure_channel(plaintext.endpoints["services"]["wallet-manager"]) as channel:
            answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        assert plaintext.stop() == 0
    for service in MESH:
        log = plaintext.state_dir / "logs" / f"{service.name}.log"
        records = [json.loads(line) for line in log.read_text().splitlines()]
        assert any(
            record["level"] == "WARNING" and "GRPC_INSECURE_PLAINTEXT=true" in record["msg"] for record in records
        ), service.name

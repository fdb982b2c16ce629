"""Mutual TLS on real sockets: every call has a verified caller, and no other call gets in.

A client whose certificate the server cannot verify (none, self-signed with the same names, expired, issued by
another CA) never gets a call through: the handshake fails, and grpc reports that to the client as UNAVAILABLE
("failed to connect to all addresses"), because no HTTP/2 connection, hence no call, ever existed. The server's
handlers never run for it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fixtures.pki import OPERATOR, TEST_SERVICE, copy_files, tls_fields
from integration.mesh.mesh_testkit import generic_service, unary_unary
from lucid_tron.config import ConfigError
from lucid_tron.mesh import MeshServer, ServiceSettings, ServiceSpec, serving
from lucid_tron.peers import PeerClient
from lucid_tron.pki import CertificateAuthority, ClientTls, PkiDirectory, TlsFiles, channel_credentials

SERVICE = "test.mtls.Identity"
WHO_AM_I = f"/{SERVICE}/WhoAmI"


async def who_am_i(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    """The caller's principal as the server sees it: the SPIFFE ID grpc took from the verified certificate."""
    (principal,) = context.auth_context()["peer_spiffe_id"]
    return principal


SPEC = ServiceSpec(name="mtls-test", services=[generic_service(SERVICE, {"WhoAmI": unary_unary(who_am_i)})])


@pytest.fixture(scope="module")
def acl(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Settings of an ACL that lets any verified caller call the test service: these tests are about identity (the
    shipped mesh policy, which does not name the test service, has its own tests in tests/integration/authz)."""
    path = tmp_path_factory.mktemp("acl") / "policy.json"
    path.write_text('{"name": "mtls-test", "allow_rules": [{"name": "any-verified-caller", "source": {"principals": ["*"]}}]}')
    return {"acl_policy_file": str(path)}


@pytest.fixture
async def server(mesh_pki: PkiDirectory, tmp_path: Path, acl: dict[str, str]) -> AsyncIterator[MeshServer]:
    files = copy_files(mesh_pki.files("services", TEST_SERVICE), tmp_path / "server")
    async with serving(SPEC, ServiceSettings(port=0, health_port=0, **tls_fields(files), **acl)) as running:
        yield running


def operator(mesh_pki: PkiDirectory) -> grpc.ChannelCredentials:
    return channel_credentials(mesh_pki.files("operators", OPERATOR).read())


async def call(address: str, credentials: grpc.ChannelCredentials, method: str = WHO_AM_I) -> bytes:
    async with grpc.aio.secure_channel(address, credentials) as channel:
        return await channel.unary_unary(method)(b"", timeout=5)


async def refused(address: str, credentials: grpc.ChannelCredentials) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(address, credentials)
    return caught.value


def pem_of(issued_certificate: bytes, key: bytes, ca: bytes) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=issued_certificate)


async def test_an_operator_call_reaches_the_handler_with_the_operators_spiffe_id(server, mesh_pki) -> None:
    assert await call(server.address, operator(mesh_pki)) == b"spiffe://lucid/operator/alice"


async def test_a_service_calling_through_its_peer_client_is_known_by_its_service_spiffe_id(server, mesh_pki) -> None:
    client = _IdentityClient(server.address, tls=ClientTls(mesh_pki.files("services", TEST_SERVICE)))
    async with client:
        assert await client.rpc.WhoAmI(b"", timeout=5) == b"spiffe://lucid/tron/test-service"


async def test_the_server_name_localhost_verifies_too(server, mesh_pki) -> None:
    address = server.address.replace("127.0.0.1", "localhost")
    assert await call(address, operator(mesh_pki)) == b"spiffe://lucid/operator/alice"


async def test_a_client_without_a_certificate_is_refused_in_the_handshake(server, mesh_pki) -> None:
    ca = mesh_pki.bundle_path.read_bytes()
    error = await refused(server.address, grpc.ssl_channel_credentials(root_certificates=ca))
    assert error.code() is grpc.StatusCode.UNAVAILABLE


async def test_a_self_signed_certificate_with_the_same_names_is_refused(server, mesh_pki) -> None:
    forger = CertificateAuthority.create("lucid-tron mesh CA")  # same subject as the real CA, another key
    forged = forger.issue_operator(OPERATOR)
    credentials = pem_of(forged.certificate_pem, forged.key_pem, mesh_pki.bundle_path.read_bytes())
    assert (await refused(server.address, credentials)).code() is grpc.StatusCode.UNAVAILABLE


async def test_an_expired_certificate_of_the_real_ca_is_refused(server, mesh_pki) -> None:
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=100)
    expired = mesh_pki.authority().issue_operator(OPERATOR, valid_days=1, not_before=long_ago)
    credentials = pem_of(expired.certificate_pem, expired.key_pem, mesh_pki.bundle_path.read_bytes())
    assert (await refused(server.address, credentials)).code() is grpc.StatusCode.UNAVAILABLE


async def test_a_certificate_of_another_ca_is_refused(server, mesh_pki, tmp_path) -> None:
    other = PkiDirectory(tmp_path / "other")
    other.init_ca()
    stranger = other.issue_operator(OPERATOR).read()
    credentials = pem_of(stranger.certificate_chain, stranger.private_key, mesh_pki.bundle_path.read_bytes())
    assert (await refused(server.address, credentials)).code() is grpc.StatusCode.UNAVAILABLE


async def test_a_client_does_not_trust_a_server_of_another_ca(mesh_pki, tmp_path) -> None:
    other = PkiDirectory(tmp_path / "other")
    other.init_ca()
    impostor = other.issue_service(TEST_SERVICE)
    async with serving(SPEC, ServiceSettings(port=0, **tls_fields(impostor))) as running:
        assert (await refused(running.address, operator(mesh_pki))).code() is grpc.StatusCode.UNAVAILABLE


async def test_health_answers_in_plaintext_on_the_health_port_while_the_service_port_requires_mtls(server) -> None:
    async with grpc.aio.insecure_channel(server.health_address) as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=SERVICE), timeout=5
        )
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
    async with grpc.aio.insecure_channel(server.address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize(
    "method",
    [WHO_AM_I, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"],
    ids=["service", "reflection"],
)
async def test_the_health_port_serves_nothing_but_health(server, method) -> None:
    async with grpc.aio.insecure_channel(server.health_address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await channel.unary_unary(method)(b"", timeout=5)
    assert caught.value.code() is grpc.StatusCode.UNIMPLEMENTED


async def test_the_health_port_follows_the_process_health(server) -> None:
    await server.health.reporter("mongodb").set_serving(False, "down")
    async with grpc.aio.insecure_channel(server.health_address) as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert answer.status == health_pb2.HealthCheckResponse.NOT_SERVING


async def test_replaced_certificate_files_are_served_on_the_next_connection_without_a_restart(mesh_pki, tmp_path, acl):
    files = copy_files(mesh_pki.files("services", TEST_SERVICE), tmp_path / "server")
    async with serving(SPEC, ServiceSettings(port=0, **tls_fields(files), **acl)) as running:
        before = await asyncio.to_thread(served_serial, running.port, mesh_pki)
        rotated = mesh_pki.authority().issue_service(TEST_SERVICE)
        files.key.write_bytes(rotated.key_pem)
        files.certificate.write_bytes(rotated.certificate_pem)
        after = await asyncio.to_thread(served_serial, running.port, mesh_pki)
        assert await call(running.address, operator(mesh_pki)) == b"spiffe://lucid/operator/alice"
    assert before != after == rotated.serial


async def test_a_server_moved_to_a_new_ca_accepts_clients_of_both_during_the_overlap(tmp_path, acl) -> None:
    pki = PkiDirectory(tmp_path / "pki")
    pki.init_ca()
    server_files = pki.issue_service(TEST_SERVICE)
    old_operator = pki.issue_operator("old")
    async with serving(SPEC, ServiceSettings(port=0, **tls_fields(server_files), **acl)) as running:
        pki.rotate_ca()
        new_operator = pki.issue_operator("new")  # under the new CA, with the old+new bundle
        assert await call(running.address, channel_credentials(new_operator.read())) == b"spiffe://lucid/operator/new"
        pki.rotate_leaf("services", TEST_SERVICE)  # the server moves to the new CA
        assert await call(running.address, channel_credentials(new_operator.read())) == b"spiffe://lucid/operator/new"
        # Issued by the old CA, its ca.pem now the old+new bundle: it still verifies, and trusts the moved server.
        assert await call(running.address, channel_credentials(old_operator.read())) == b"spiffe://lucid/operator/old"


async def test_once_the_old_ca_is_retired_its_certificates_are_refused(tmp_path, acl) -> None:
    pki = PkiDirectory(tmp_path / "pki")
    pki.init_ca()
    server_files = pki.issue_service(TEST_SERVICE)
    before = pki.issue_operator("alice").read()
    pki.rotate_ca()
    pki.rotate_all()
    pki.retire_old_cas()
    async with serving(SPEC, ServiceSettings(port=0, **tls_fields(server_files), **acl)) as running:
        current = pki.files("operators", "alice").read()
        assert await call(running.address, channel_credentials(current)) == b"spiffe://lucid/operator/alice"
        retired = pem_of(before.certificate_chain, before.private_key, current.trusted_cas)
        assert (await refused(running.address, retired)).code() is grpc.StatusCode.UNAVAILABLE


async def test_a_peer_client_presents_its_new_certificate_after_the_files_change(server, mesh_pki, tmp_path) -> None:
    files = copy_files(mesh_pki.files("services", TEST_SERVICE), tmp_path / "client")
    client = _IdentityClient(server.address, tls=ClientTls(files, check_interval_s=0))
    async with client:
        assert await client.rpc.WhoAmI(b"", timeout=5) == b"spiffe://lucid/tron/test-service"
        renamed = mesh_pki.authority().issue_service("payout-router")
        files.key.write_bytes(renamed.key_pem)
        files.certificate.write_bytes(renamed.certificate_pem)
        assert await client.rpc.WhoAmI(b"", timeout=5) == b"spiffe://lucid/tron/payout-router"


async def test_tls_files_that_cannot_be_read_stop_the_server_naming_each_variable(tmp_path) -> None:
    missing = TlsFiles(tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem")
    with pytest.raises(ConfigError) as caught:
        async with serving(SPEC, ServiceSettings(port=0, **tls_fields(missing))):
            pass
    assert {problem.variable for problem in caught.value.problems} == {"TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CA_FILE"}


async def test_a_key_that_does_not_belong_to_the_certificate_stops_the_server(mesh_pki, tmp_path) -> None:
    files = copy_files(mesh_pki.files("services", TEST_SERVICE), tmp_path / "server")
    files.key.write_bytes(mesh_pki.files("operators", OPERATOR).key.read_bytes())
    with pytest.raises(ConfigError) as caught:
        async with serving(SPEC, ServiceSettings(port=0, **tls_fields(files))):
            pass
    assert [problem.variable for problem in caught.value.problems] == ["TLS_CERT_FILE"]


async def test_plaintext_mode_serves_without_certificates_and_warns(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="lucid_tron.mesh.server"):
        async with serving(SPEC, ServiceSettings(port=0, insecure_plaintext=True)) as running:
            async with grpc.aio.insecure_channel(running.address) as channel:
                await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    [warning] = [record for record in caplog.records if "GRPC_INSECURE_PLAINTEXT" in record.getMessage()]
    assert warning.levelno == logging.WARNING and "PLAINTEXT" in warning.getMessage()


async def test_a_service_process_without_its_certificate_files_exits_78_naming_them(tmp_path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("GRPC_", "TLS_"))}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).parents[2]), env.get("PYTHONPATH")])),
        SECRETS_DIR=str(tmp_path),
        GRPC_PORT="0",
        TLS_CERT_FILE=str(tmp_path / "nowhere" / "cert.pem"),
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "integration.mesh.mesh_example_service", env=env, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 78
    assert f"TLS_CERT_FILE: cannot read {tmp_path / 'nowhere' / 'cert.pem'}" in stderr.decode()
    assert "TLS_CA_FILE: cannot read /run/secrets/tls/ca.pem" in stderr.decode()


class _IdentityClient(PeerClient[Any]):
    peer = "mtls-test"

    class stub:  # noqa: N801 - a generated stub's shape: one attribute per method
        def __init__(self, channel: grpc.aio.Channel) -> None:
            self.WhoAmI = channel.unary_unary(WHO_AM_I)


def served_serial(port: int, pki: PkiDirectory) -> int:
    """The serial of the certificate the server presents on a new connection (a TLS handshake with the stdlib)."""
    operator_files = pki.files("operators", OPERATOR)
    context = ssl.create_default_context(cadata=pki.bundle_path.read_text())
    context.load_cert_chain(operator_files.certificate, operator_files.key)
    context.set_alpn_protocols(["h2"])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, context.wrap_socket(
        raw, server_hostname="127.0.0.1"
    ) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number

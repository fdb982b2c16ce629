"""The ACL in every service: checked in the mesh's wrapper of each handler, before the request is parsed.

Real mutual TLS over loopback (a CA from lucid_tron.pki): the principal is the URI SAN grpc core verified.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from integration.authz.acl_kit import NO_PRINCIPAL, OPERATOR, MeshTls, service
from integration.mesh.mesh_testkit import (
    details_of,
    generic_service,
    rich_status,
    stream_stream,
    stream_unary,
    unary_stream,
    unary_unary,
)
from lucid.tron.v1 import wallet_pb2, wallet_pb2_grpc
from lucid_tron import context as request_context
from lucid_tron.mesh import MeshServer, Registration, ServiceSettings, ServiceSpec, serving

ECHO = "test.acl.Echo"
POLICY = """{
  "name": "test-policy",
  "deny_rules": [{"name": "no-sidecar-writes", "source": {"principals": ["spiffe://lucid/tron/beta-sidecar"]},
                  "request": {"paths": ["/test.acl.Echo/Write"]}}],
  "allow_rules": [
    {"name": "operators-everything", "source": {"principals": ["spiffe://lucid/operator/*"]}},
    {"name": "mesh-reads", "source": {"principals": ["spiffe://lucid/tron/*"]},
     "request": {"paths": ["/test.acl.Echo/Read*", "/lucid.tron.v1.WalletService/GetWallet"]}}
  ],
  "audit_logging_options": {"audit_condition": "ON_DENY_AND_ALLOW",
                            "audit_loggers": [{"name": "stdout_logger", "config": {}, "is_optional": false}]}
}"""
DENY_ALL_BUT_OPERATORS = POLICY.replace('"spiffe://lucid/tron/*"', '"spiffe://lucid/tron/nobody"')

reached: list[str] = []


async def read(request: bytes, context: Any) -> bytes:
    reached.append("Read")
    return request + b"|" + (request_context.principal() or "none").encode()


async def read_stream(request: bytes, context: Any) -> AsyncIterator[bytes]:
    reached.append("ReadStream")
    yield request
    yield request


async def read_client_stream(requests: AsyncIterator[bytes], context: Any) -> bytes:
    reached.append("ReadClientStream")
    return b"".join([r async for r in requests])


async def read_bidi(requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
    reached.append("ReadBidi")
    async for request in requests:
        yield request


async def write(request: bytes, context: Any) -> bytes:
    reached.append("Write")
    return request


class Wallets(wallet_pb2_grpc.WalletServiceServicer):
    async def GetWallet(self, request: wallet_pb2.GetWalletRequest, context: Any) -> wallet_pb2.GetWalletResponse:
        return wallet_pb2.GetWalletResponse(wallet=wallet_pb2.Wallet(wallet_id=request.wallet_id))


def spec() -> ServiceSpec:
    echo = generic_service(
        ECHO,
        {
            "Read": unary_unary(read),
            "ReadStream": unary_stream(read_stream),
            "ReadClientStream": stream_unary(read_client_stream),
            "ReadBidi": stream_stream(read_bidi),
            "Write": unary_unary(write),
        },
    )
    wallets = Registration(wallet_pb2_grpc.add_WalletServiceServicer_to_server, Wallets(), "lucid.tron.v1.WalletService")
    return ServiceSpec(name="acl-test", services=[echo, wallets])


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(POLICY)
    return path


@pytest.fixture
async def server(mesh_tls: MeshTls, policy_file: Path) -> AsyncIterator[MeshServer]:
    settings = ServiceSettings(
        port=0, acl_policy_file=str(policy_file), acl_reload_interval_s=0.05, **mesh_tls.server_settings()
    )
    reached.clear()
    async with serving(spec(), settings) as running:
        yield running


async def unary(tls: MeshTls, address: str, principal: str, method: str, payload: bytes = b"hi", **kwargs: Any) -> Any:
    async with tls.channel(address, principal) as channel:
        return await channel.unary_unary(method)(payload, timeout=5, **kwargs)


async def refused(tls: MeshTls, address: str, principal: str, method: str, payload: bytes = b"hi") -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await unary(tls, address, principal, method, payload)
    return caught.value


async def test_an_allowed_call_reaches_the_handler_which_sees_the_principal(mesh_tls: MeshTls, server: MeshServer) -> None:
    answer = await unary(mesh_tls, server.address, service("payout-router"), f"/{ECHO}/Read")
    assert answer == b"hi|spiffe://lucid/tron/payout-router"


async def test_a_forbidden_principal_is_permission_denied_with_acl_denied_and_no_internals(
    mesh_tls: MeshTls, server: MeshServer
) -> None:
    error = await refused(mesh_tls, server.address, service("payout-router"), f"/{ECHO}/Write")
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED
    info = details_of(rich_status(error))["ErrorInfo"]
    assert info.reason == "ACL_DENIED"
    assert "test-policy" not in (error.details() or "") and "mesh-reads" not in (error.details() or "")
    assert reached == []


async def test_a_deny_rule_wins_over_an_allow_rule(mesh_tls: MeshTls, server: MeshServer) -> None:
    error = await refused(mesh_tls, server.address, service("beta-sidecar"), f"/{ECHO}/Write")
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED
    assert await unary(mesh_tls, server.address, OPERATOR, f"/{ECHO}/Write") == b"hi"


async def test_a_caller_without_a_principal_is_unauthenticated(mesh_tls: MeshTls, server: MeshServer) -> None:
    # A certificate the CA issued but that names no spiffe:// URI: the TLS handshake succeeds, grpc reports no
    # peer_spiffe_id, and the call has no identity to check. (Without any client certificate the handshake itself
    # fails, before any call: see lucid_tron.mesh._transport.)
    error = await refused(mesh_tls, server.address, NO_PRINCIPAL, f"/{ECHO}/Read")
    assert error.code() is grpc.StatusCode.UNAUTHENTICATED
    assert details_of(rich_status(error))["ErrorInfo"].reason == "NO_PRINCIPAL"
    assert reached == []


async def test_a_denied_call_is_refused_before_its_request_is_parsed(mesh_tls: MeshTls, server: MeshServer) -> None:
    garbage = b"\xff\xff\xff\xff"
    denied = await refused(mesh_tls, server.address, service("tron-relay"), "/lucid.tron.v1.WalletService/ListWallets", garbage)
    assert denied.code() is grpc.StatusCode.PERMISSION_DENIED
    allowed = await refused(mesh_tls, server.address, service("tron-relay"), "/lucid.tron.v1.WalletService/GetWallet", garbage)
    assert allowed.code() is grpc.StatusCode.INVALID_ARGUMENT  # the same bytes, once allowed, are parsed


@pytest.mark.parametrize("method", ["ReadStream", "ReadClientStream", "ReadBidi"])
async def test_streaming_calls_are_checked_like_unary_ones(mesh_tls: MeshTls, server: MeshServer, method: str) -> None:
    async def call(principal: str, requests: list[bytes]) -> list[bytes]:
        async with mesh_tls.channel(server.address, principal) as channel:
            path = f"/{ECHO}/{method}"
            if method == "ReadStream":
                return [r async for r in channel.unary_stream(path)(b"x", timeout=5)]
            if method == "ReadClientStream":
                return [await channel.stream_unary(path)(iter(requests), timeout=5)]
            return [r async for r in channel.stream_stream(path)(iter(requests), timeout=5)]

    assert await call(service("staking"), [b"x", b"y"])
    # No request written to the refused call: one written while the server refuses it races grpc Python's client,
    # which may then report INTERNAL instead of the server's status.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(NO_PRINCIPAL, [])
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert reached == [method]


async def test_health_is_open_to_a_caller_without_a_principal(mesh_tls: MeshTls, server: MeshServer) -> None:
    async with mesh_tls.channel(server.address, NO_PRINCIPAL) as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_is_governed_by_the_policy(mesh_tls: MeshTls, server: MeshServer) -> None:
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    async def list_services(principal: str, asking: bool) -> Any:
        async with mesh_tls.channel(server.address, principal) as channel:
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            requests = [reflection_pb2.ServerReflectionRequest(list_services="")] if asking else []
            return [r async for r in stub.ServerReflectionInfo(iter(requests), timeout=5)]

    assert await list_services(OPERATOR, asking=True)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await list_services(service("tron-client"), asking=False)  # see the streaming test: no request written
    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED


async def test_decisions_are_audited_with_method_principal_rule_and_request_id(
    mesh_tls: MeshTls, server: MeshServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lucid_tron.authz.audit")
    await refused(mesh_tls, server.address, service("tron-client"), f"/{ECHO}/Write")
    await unary(mesh_tls, server.address, service("tron-client"), f"/{ECHO}/Read", metadata=(("x-request-id", "req-7"),))
    audits = [r for r in caplog.records if r.name == "lucid_tron.authz.audit"]
    assert [(r.decision, r.rpc_method, r.principal, r.matched_rule) for r in audits] == [
        ("DENY", f"/{ECHO}/Write", "spiffe://lucid/tron/tron-client", None),
        ("ALLOW", f"/{ECHO}/Read", "spiffe://lucid/tron/tron-client", "mesh-reads"),
    ]
    assert audits[1].request_id == "req-7" and audits[0].request_id
    assert all(r.authz_policy == "test-policy" for r in audits)


async def test_dry_run_logs_what_it_would_deny_and_serves_it(
    mesh_tls: MeshTls, policy_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = ServiceSettings(port=0, acl_policy_file=str(policy_file), acl_dry_run=True, **mesh_tls.server_settings())
    caplog.set_level(logging.INFO, logger="lucid_tron.authz.audit")
    async with serving(spec(), settings) as running:
        assert await unary(mesh_tls, running.address, service("tron-client"), f"/{ECHO}/Write") == b"hi"
    [would] = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "lucid_tron.authz.audit"]
    assert "would deny" in would.getMessage() and would.rpc_method == f"/{ECHO}/Write" and would.dry_run is True


async def test_an_edited_policy_file_applies_within_seconds(mesh_tls: MeshTls, server: MeshServer, policy_file: Path) -> None:
    assert await unary(mesh_tls, server.address, service("tron-client"), f"/{ECHO}/Read") == b"hi|spiffe://lucid/tron/tron-client"
    policy_file.write_text(DENY_ALL_BUT_OPERATORS)
    error = await eventually_refused(mesh_tls, server.address, service("tron-client"), f"/{ECHO}/Read")
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED


async def test_an_invalid_policy_file_keeps_the_last_good_policy_and_says_why(
    mesh_tls: MeshTls, server: MeshServer, policy_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="lucid_tron.authz")
    policy_file.write_text(DENY_ALL_BUT_OPERATORS.replace('"allow_rules"', '"allow_rulez"'))
    for _ in range(100):
        if any(r.levelno == logging.ERROR for r in caplog.records):
            break
        await asyncio.sleep(0.05)
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "missing allow_rules" in error.getMessage() and "keeping policy 'test-policy'" in error.getMessage()
    assert await unary(mesh_tls, server.address, service("tron-client"), f"/{ECHO}/Read") == b"hi|spiffe://lucid/tron/tron-client"


async def test_plaintext_mode_serves_without_checking_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="lucid_tron.mesh.server")
    async with serving(spec(), ServiceSettings(port=0, insecure_plaintext=True)) as running:
        async with grpc.aio.insecure_channel(running.address) as channel:
            assert await channel.unary_unary(f"/{ECHO}/Write")(b"hi", timeout=5) == b"hi"
    [warning] = [r for r in caplog.records if "NOT enforced" in r.getMessage()]
    assert warning.levelno == logging.WARNING


async def eventually_refused(tls: MeshTls, address: str, principal: str, method: str) -> grpc.aio.AioRpcError:
    for _ in range(100):
        try:
            await unary(tls, address, principal, method)
        except grpc.aio.AioRpcError as error:
            return error
        await asyncio.sleep(0.05)
    raise AssertionError(f"{method} was still allowed to {principal}")


async def test_decisions_and_failed_reloads_are_in_the_metrics(mesh_tls: MeshTls, policy_file: Path) -> None:
    import urllib.request

    settings = ServiceSettings(
        port=0, metrics_port=0, acl_policy_file=str(policy_file), acl_reload_interval_s=0.05, **mesh_tls.server_settings()
    )
    async with serving(spec(), settings) as running:
        await refused(mesh_tls, running.address, service("tron-client"), f"/{ECHO}/Write")
        policy_file.write_text("{")
        await asyncio.sleep(0.3)
        url = f"http://{running.metrics_address}/metrics"
        text = (await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())).decode()
    assert f'lucid_acl_decisions_total{{decision="DENY",grpc_method="/{ECHO}/Write",rule=""}} 1.0' in text
    assert "lucid_acl_reload_failures_total 1.0" in text

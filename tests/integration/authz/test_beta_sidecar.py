"""beta-sidecar forwards any method as raw bytes and answers exactly what the backend answered.

Each behaviour is checked by making the same call to the backend directly and through the sidecar, over real mTLS:
the operator's certificate to the sidecar, the sidecar's own certificate to the backend. Methods are forwarded both
with their declared shape (the generated descriptors name them) and as stream-stream (a method no descriptor names).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from integration.authz.acl_kit import OPERATOR, MeshTls
from integration.mesh.mesh_testkit import generic_service, stream_stream, stream_unary, unary_stream, unary_unary
from lucid_tron import errors
from lucid_tron.mesh import MeshServer, ServiceSettings, ServiceSpec, serving
from lucid_tron.services.beta_sidecar import __main__ as sidecar_main
from lucid_tron.services.beta_sidecar.__main__ import SidecarSettings, build

PROXIED = "test.proxy.Echo"
SHAPES = {
    f"/{PROXIED}/Unary": (False, False),
    f"/{PROXIED}/Fail": (False, False),
    f"/{PROXIED}/Deadline": (False, False),
    f"/{PROXIED}/Secret": (False, False),
    f"/{PROXIED}/ServerStream": (False, True),
    f"/{PROXIED}/ServerStreamFail": (False, True),
    f"/{PROXIED}/ClientStream": (True, False),
    f"/{PROXIED}/Bidi": (True, True),
    f"/{PROXIED}/Slow": (False, False),
}
BACKEND_POLICY = """{"name": "backend", "allow_rules": [{"name": "operators-and-the-sidecar",
  "source": {"principals": ["spiffe://lucid/operator/*", "spiffe://lucid/tron/beta-sidecar"]},
  "request": {"paths": ["/test.proxy.Echo/*"]}}]}"""
SIDECAR_POLICY = """{"name": "border",
  "deny_rules": [{"name": "no-secrets", "request": {"paths": ["/test.proxy.Echo/Secret"]}}],
  "allow_rules": [{"name": "operators", "source": {"principals": ["spiffe://lucid/operator/*"]},
  "request": {"paths": ["/test.proxy.Echo/*"]}}]}"""
METADATA = (("x-request-id", "req-42"), ("x-caller-note", "kept"), ("x-bin", b"\x00\x01"))

reached: list[str] = []
cancelled: list[str] = []


async def unary(request: bytes, context: Any) -> bytes:
    reached.append("Unary")
    await context.send_initial_metadata((("x-backend-initial", "i"),))
    context.set_trailing_metadata((("x-backend-trailer", "t"), ("x-echo-note", dict(context.invocation_metadata())["x-caller-note"])))
    return request[::-1]


async def fail(request: bytes, context: Any) -> bytes:
    raise errors.FailedPrecondition("the wallet is watch-only", reason="WATCH_ONLY", subject="wallets/w1")


async def deadline(request: bytes, context: Any) -> bytes:
    return f"{context.time_remaining():.3f}".encode()


async def secret(request: bytes, context: Any) -> bytes:
    reached.append("Secret")
    return b"secret"


async def server_stream(request: bytes, context: Any) -> AsyncIterator[bytes]:
    for index in range(3):
        yield request + bytes([index])
    context.set_trailing_metadata((("x-count", "3"),))


async def server_stream_fail(request: bytes, context: Any) -> AsyncIterator[bytes]:
    yield request
    raise errors.NotFound("wallet", "wallets/w9", "no such wallet")


async def client_stream(requests: AsyncIterator[bytes], context: Any) -> bytes:
    return b"+".join([r async for r in requests])


async def bidi(requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
    async for request in requests:
        yield request.upper()


async def slow(request: bytes, context: Any) -> bytes:
    reached.append("Slow")
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        cancelled.append("Slow")
        raise
    return b""


def backend_spec() -> ServiceSpec:
    methods = {
        "Unary": unary_unary(unary),
        "Fail": unary_unary(fail),
        "Deadline": unary_unary(deadline),
        "Secret": unary_unary(secret),
        "ServerStream": unary_stream(server_stream),
        "ServerStreamFail": unary_stream(server_stream_fail),
        "ClientStream": stream_unary(client_stream),
        "Bidi": stream_stream(bidi),
        "Slow": unary_unary(slow),
    }
    return ServiceSpec(name="proxied-backend", services=[generic_service(PROXIED, methods)])


@pytest.fixture
async def backend(mesh_tls: MeshTls, tmp_path: Path) -> AsyncIterator[MeshServer]:
    policy = tmp_path / "backend.json"
    policy.write_text(BACKEND_POLICY)
    settings = ServiceSettings(port=0, acl_policy_file=str(policy), **mesh_tls.server_settings("wallet-manager"))
    reached.clear()
    cancelled.clear()
    async with serving(backend_spec(), settings) as running:
        yield running


@pytest.fixture(params=["declared-shapes", "any-shape"])
async def sidecar(
    request: pytest.FixtureRequest, mesh_tls: MeshTls, backend: MeshServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[MeshServer]:
    if request.param == "declared-shapes":
        known = sidecar_main.known_shapes()
        monkeypatch.setattr(sidecar_main, "known_shapes", lambda: {**known, **SHAPES})
    policy = tmp_path / "border.json"
    policy.write_text(SIDECAR_POLICY)
    settings = SidecarSettings(
        port=0,
        backend_addr=backend.address,
        acl_policy_file=str(policy),
        dependency_check_interval_s=0.2,
        **mesh_tls.server_settings("beta-sidecar"),
    )
    async with serving(build(settings), settings) as running:
        yield running


async def outcome(tls: MeshTls, address: str, method: str, **kwargs: Any) -> dict[str, Any]:
    """Everything a caller observes of a call: responses, status code and message, initial and trailing metadata."""
    async with tls.channel(address, OPERATOR) as channel:
        shape = SHAPES[method]
        requests = [b"ab", b"cd"]
        if shape == (False, False):
            call: Any = channel.unary_unary(method)(b"abc", metadata=METADATA, timeout=5, **kwargs)
        elif shape == (False, True):
            call = channel.unary_stream(method)(b"abc", metadata=METADATA, timeout=5, **kwargs)
        elif shape == (True, False):
            call = channel.stream_unary(method)(iter(requests), metadata=METADATA, timeout=5, **kwargs)
        else:
            call = channel.stream_stream(method)(iter(requests), metadata=METADATA, timeout=5, **kwargs)
        responses: list[bytes] = []
        try:
            if shape[1]:
                responses = [r async for r in call]
            else:
                responses = [await call]
        except grpc.aio.AioRpcError:
            pass
        return {
            "responses": responses,
            "code": await call.code(),
            "details": await call.details(),
            "initial": tuple(await call.initial_metadata()),
            "trailing": tuple(await call.trailing_metadata()),
        }


@pytest.mark.parametrize(
    "method",
    ["Unary", "Fail", "ServerStream", "ServerStreamFail", "ClientStream", "Bidi"],
)
async def test_a_call_through_the_sidecar_answers_exactly_as_the_backend_does(
    mesh_tls: MeshTls, backend: MeshServer, sidecar: MeshServer, method: str
) -> None:
    direct = await outcome(mesh_tls, backend.address, f"/{PROXIED}/{method}")
    proxied = await outcome(mesh_tls, sidecar.address, f"/{PROXIED}/{method}")
    assert proxied == direct
    if method == "Fail":
        # The rich details (google.rpc.Status with PreconditionFailure) travel in the trailers, byte for byte.
        assert any(key == "grpc-status-details-bin" for key, _ in proxied["trailing"])


async def test_the_callers_remaining_time_is_the_backends_deadline(
    mesh_tls: MeshTls, backend: MeshServer, sidecar: MeshServer
) -> None:
    async with mesh_tls.channel(sidecar.address, OPERATOR) as channel:
        seen = float(await channel.unary_unary(f"/{PROXIED}/Deadline")(b"", timeout=2.0))
    assert 1.5 < seen <= 2.05  # grpc-timeout is sent rounded up to its unit


async def test_a_denied_method_never_reaches_the_backend(
    mesh_tls: MeshTls, backend: MeshServer, sidecar: MeshServer
) -> None:
    denied = await outcome(mesh_tls, sidecar.address, f"/{PROXIED}/Secret")
    assert denied["code"] is grpc.StatusCode.PERMISSION_DENIED
    assert "Secret" not in reached


async def test_a_caller_that_cancels_cancels_the_backend_call(
    mesh_tls: MeshTls, backend: MeshServer, sidecar: MeshServer
) -> None:
    async with mesh_tls.channel(sidecar.address, OPERATOR) as channel:
        call = channel.unary_unary(f"/{PROXIED}/Slow")(b"", timeout=20)
        for _ in range(100):
            if "Slow" in reached:
                break
            await asyncio.sleep(0.02)
        call.cancel()
        for _ in range(100):
            if cancelled:
                break
            await asyncio.sleep(0.02)
    assert cancelled == ["Slow"]


async def test_the_sidecar_serves_its_own_health_while_the_backend_answers(
    mesh_tls: MeshTls, backend: MeshServer, sidecar: MeshServer
) -> None:
    async with mesh_tls.channel(sidecar.address, OPERATOR) as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="lucid.tron.v1.WalletService"), timeout=5
        )
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_the_sidecar_process_forwards_and_reports_the_backend_serving(
    mesh_tls: MeshTls, backend: MeshServer, tmp_path: Path
) -> None:
    from fixtures.service_processes import start_service_process

    policy = tmp_path / "border.json"
    policy.write_text(SIDECAR_POLICY)
    files = mesh_tls.files("spiffe://lucid/tron/beta-sidecar")
    sidecar = await start_service_process(
        "lucid_tron.services.beta_sidecar",
        tmp_path,
        GRPC_INSECURE_PLAINTEXT="false",
        TLS_CERT_FILE=str(files.certificate),
        TLS_KEY_FILE=str(files.key),
        TLS_CA_FILE=str(files.ca),
        BACKEND_ADDR=backend.address,
        ACL_POLICY_FILE=str(policy),
    )
    try:
        async with mesh_tls.channel(sidecar.address, OPERATOR) as channel:
            assert await channel.unary_unary(f"/{PROXIED}/Unary")(b"abc", metadata=METADATA, timeout=5) == b"cba"
            answer = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="lucid.tron.v1.WalletService"), timeout=5
            )
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        assert await sidecar.stop() == 0


async def test_an_unreachable_backend_is_unavailable_without_its_address(mesh_tls: MeshTls, tmp_path: Path) -> None:
    from lucid_tron.testing import free_port

    policy = tmp_path / "border.json"
    policy.write_text(SIDECAR_POLICY)
    port = free_port()
    settings = SidecarSettings(
        port=0, backend_addr=f"127.0.0.1:{port}", acl_policy_file=str(policy), **mesh_tls.server_settings("beta-sidecar")
    )
    async with serving(build(settings), settings) as sidecar:
        answered = await outcome(mesh_tls, sidecar.address, f"/{PROXIED}/Unary")
    assert answered["code"] is grpc.StatusCode.UNAVAILABLE
    assert str(port) not in answered["details"]

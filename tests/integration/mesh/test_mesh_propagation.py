"""A call to another service carries the incoming deadline and request id; an expired deadline stops the call.

An RPC's deadline is its caller's or the service's CALL_TIMEOUT_S from its start, whichever is sooner.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest

from integration.mesh.mesh_testkit import generic_service, unary_stream, unary_unary
from lucid_tron.mesh import REQUEST_ID_HEADER, ServiceSettings, ServiceSpec, deadlines, open_channel, serving

DOWNSTREAM = "test.mesh.Downstream"
UPSTREAM = "test.mesh.Upstream"
#: The upstream's CALL_TIMEOUT_S: the deadline of a call whose caller set none (or a later one).
CALL_TIMEOUT_S = 20.0


@dataclass
class Seen:
    """What the downstream service saw of each call it received."""

    time_remaining: list[float | None] = field(default_factory=list)
    request_ids: list[str | None] = field(default_factory=list)


@dataclass
class Mesh:
    upstream: grpc.aio.Channel
    seen: Seen


@pytest.fixture(scope="module")
async def mesh() -> AsyncIterator[Mesh]:
    seen = Seen()

    def record(context: grpc.aio.ServicerContext[Any, Any]) -> None:
        seen.time_remaining.append(context.time_remaining())
        metadata = dict(context.invocation_metadata() or ())
        seen.request_ids.append(metadata.get(REQUEST_ID_HEADER))  # type: ignore[arg-type]

    async def recorded(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        record(context)
        return b"down"

    async def recorded_stream(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[bytes]:
        record(context)
        yield b"down"

    downstream_spec = ServiceSpec(
        name="downstream",
        services=[
            generic_service(DOWNSTREAM, {"Record": unary_unary(recorded), "Stream": unary_stream(recorded_stream)})
        ],
    )
    async with (
        serving(downstream_spec, ServiceSettings(port=0, insecure_plaintext=True)) as downstream,
        open_channel(downstream.address) as to_downstream,
    ):
        record_call = to_downstream.unary_unary(f"/{DOWNSTREAM}/Record")
        stream_call = to_downstream.unary_stream(f"/{DOWNSTREAM}/Stream")

        async def forward(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            return await record_call(request)

        async def forward_with_long_timeout(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            return await record_call(request, timeout=30.0)

        async def forward_stream(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            return b"".join([message async for message in stream_call(request)])

        async def sleep_then_forward(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            await asyncio.sleep(0.3)
            return await record_call(request)

        async def budget(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            return repr(deadlines.timeout(60.0)).encode()

        upstream_spec = ServiceSpec(
            name="upstream",
            services=[
                generic_service(
                    UPSTREAM,
                    {
                        "Forward": unary_unary(forward),
                        "ForwardWithLongTimeout": unary_unary(forward_with_long_timeout),
                        "ForwardStream": unary_unary(forward_stream),
                        "SleepThenForward": unary_unary(sleep_then_forward),
                        "Budget": unary_unary(budget),
                    },
                )
            ],
        )
        async with (
            serving(
                upstream_spec, ServiceSettings(port=0, insecure_plaintext=True, call_timeout_s=CALL_TIMEOUT_S)
            ) as upstream,
            grpc.aio.insecure_channel(upstream.address) as channel,
        ):
            yield Mesh(channel, seen)


async def call(mesh: Mesh, method: str, **kwargs: Any) -> bytes:
    return await mesh.upstream.unary_unary(f"/{UPSTREAM}/{method}")(b"", **kwargs)


@pytest.mark.parametrize("method", ["Forward", "ForwardStream"])
async def test_the_callers_deadline_reaches_the_next_service(mesh: Mesh, method: str) -> None:
    await call(mesh, method, timeout=2.0)
    remaining = mesh.seen.time_remaining[-1]
    # Shorter than the caller's 2 s by about the margin; grpc's own view of a deadline can be ~10 ms generous.
    assert remaining is not None and 1.5 < remaining < 2.0


async def test_without_a_deadline_the_next_call_gets_the_services_call_timeout(mesh: Mesh) -> None:
    await call(mesh, "Forward")
    remaining = mesh.seen.time_remaining[-1]
    assert remaining is not None and CALL_TIMEOUT_S - 1.0 < remaining < CALL_TIMEOUT_S


async def test_a_longer_explicit_timeout_is_shortened_to_the_callers_deadline(mesh: Mesh) -> None:
    await call(mesh, "ForwardWithLongTimeout", timeout=2.0)
    remaining = mesh.seen.time_remaining[-1]
    assert remaining is not None and remaining <= 2.0


@pytest.mark.parametrize("method", ["Forward", "ForwardStream"])
async def test_the_request_id_reaches_the_next_service(mesh: Mesh, method: str) -> None:
    await call(mesh, method, metadata=((REQUEST_ID_HEADER, f"req-{method}"),))
    assert mesh.seen.request_ids[-1] == f"req-{method}"


async def test_no_call_is_made_once_the_deadline_has_passed(mesh: Mesh) -> None:
    calls_before = len(mesh.seen.time_remaining)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(mesh, "SleepThenForward", timeout=0.2)
    assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    await asyncio.sleep(0.3)  # the upstream handler wakes up after the caller gave up
    assert len(mesh.seen.time_remaining) == calls_before


async def test_handlers_can_budget_their_waits_from_the_deadline(mesh: Mesh) -> None:
    assert 0.5 < float(await call(mesh, "Budget", timeout=1.0)) < 1.0


async def test_a_callers_deadline_later_than_the_call_timeout_is_shortened_to_it(mesh: Mesh) -> None:
    assert CALL_TIMEOUT_S - 0.5 < float(await call(mesh, "Budget", timeout=50.0)) < CALL_TIMEOUT_S
    assert CALL_TIMEOUT_S - 0.5 < float(await call(mesh, "Budget")) < CALL_TIMEOUT_S

"""Domain errors become one status code each with google.rpc.Status details; anything else becomes INTERNAL."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2

from integration.mesh.mesh_testkit import (
    details_of,
    generic_service,
    rich_status,
    stream_stream,
    stream_unary,
    trailing,
    unary_stream,
    unary_unary,
)
from lucid_tron import errors
from lucid_tron.mesh import (
    ERROR_DOMAIN,
    REQUEST_ID_HEADER,
    MeshServer,
    ServiceSettings,
    ServiceSpec,
    current_request_id,
    serving,
)
from lucid_tron.mesh._logging import JsonFormatter, RedactingFilter

SERVICE = "test.mesh.Errors"

# What the servicer raises, chosen by the request body.
RAISES: dict[bytes, Callable[[], Exception]] = {
    b"invalid": lambda: errors.InvalidArgument(
        errors.FieldViolation("payout.amount_sun", "must be positive"),
        errors.FieldViolation("payout.to", "not a TRON address"),
    ),
    b"not_found": lambda: errors.NotFound("invoice", "inv_42"),
    b"exists": lambda: errors.AlreadyExists("payout", "po_7"),
    b"precondition": lambda: errors.FailedPrecondition(
        "not enough energy", reason="INSUFFICIENT_ENERGY", subject="TXyzAddress"
    ),
    b"denied": lambda: errors.PermissionDenied("wallet-manager may not be called by payment-gateway"),
    b"aborted": lambda: errors.Aborted("invoice changed concurrently"),
    b"exhausted": lambda: errors.ResourceExhausted("daily payout limit reached", reason="DAILY_LIMIT"),
    b"unavailable": lambda: errors.Unavailable("TronGrid unreachable", retry_after_s=1.5),
    b"unavailable_no_hint": lambda: errors.Unavailable("MongoDB unreachable"),
    b"deadline": lambda: errors.DeadlineExceeded("TronGrid took too long"),
    b"bug": lambda: KeyError("secret internals"),
}


async def raise_chosen(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    if request in RAISES:
        raise RAISES[request]()
    return b"ok:" + request


async def identify(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    """Reads the request id, as a log line or a call onwards does."""
    return str(current_request_id()).encode()


async def stream_then_raise(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[bytes]:
    yield b"first"
    raise RAISES[request]()


async def write_then_raise(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    # The other way to stream: context.write instead of yield.
    await context.write(b"first")
    raise RAISES[request]()


async def collect_then_raise(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    received = [request async for request in requests]
    raise RAISES[received[-1]]()


async def echo_then_raise(
    requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
) -> AsyncIterator[bytes]:
    async for request in requests:
        if request in RAISES:
            raise RAISES[request]()
        yield request


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[MeshServer]:
    spec = ServiceSpec(
        name="errors-test",
        services=[
            generic_service(
                SERVICE,
                {
                    "Unary": unary_unary(raise_chosen),
                    "Identify": unary_unary(identify),
                    "ServerStream": unary_stream(stream_then_raise),
                    "ServerWrite": unary_stream(write_then_raise),
                    "ClientStream": stream_unary(collect_then_raise),
                    "BidiStream": stream_stream(echo_then_raise),
                },
            )
        ],
    )
    async with serving(spec, ServiceSettings(port=0, insecure_plaintext=True)) as running:
        yield running


@pytest.fixture(scope="module")
async def channel(server: MeshServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(server.address) as opened:
        yield opened


async def fail_unary(channel: grpc.aio.Channel, request: bytes, **kwargs: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await channel.unary_unary(f"/{SERVICE}/Unary")(request, **kwargs)
    return caught.value


CODES = [
    (b"invalid", grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
    (b"not_found", grpc.StatusCode.NOT_FOUND, "NOT_FOUND"),
    (b"exists", grpc.StatusCode.ALREADY_EXISTS, "ALREADY_EXISTS"),
    (b"precondition", grpc.StatusCode.FAILED_PRECONDITION, "INSUFFICIENT_ENERGY"),
    (b"denied", grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED"),
    (b"aborted", grpc.StatusCode.ABORTED, "ABORTED"),
    (b"exhausted", grpc.StatusCode.RESOURCE_EXHAUSTED, "DAILY_LIMIT"),
    (b"unavailable", grpc.StatusCode.UNAVAILABLE, "UNAVAILABLE"),
    (b"deadline", grpc.StatusCode.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"),
]


@pytest.mark.parametrize(("request_body", "code", "reason"), CODES, ids=[c[0].decode() for c in CODES])
async def test_each_domain_error_maps_to_its_code_with_error_info(
    channel: grpc.aio.Channel, request_body: bytes, code: grpc.StatusCode, reason: str
) -> None:
    error = await fail_unary(channel, request_body)
    assert error.code() is code
    assert error.details() == RAISES[request_body]().args[0]
    info = details_of(rich_status(error))["ErrorInfo"]
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert (info.reason, info.domain) == (reason, ERROR_DOMAIN)


async def test_invalid_argument_names_every_bad_field(channel: grpc.aio.Channel) -> None:
    bad_request = details_of(rich_status(await fail_unary(channel, b"invalid")))["BadRequest"]
    assert isinstance(bad_request, error_details_pb2.BadRequest)
    assert [(v.field, v.description) for v in bad_request.field_violations] == [
        ("payout.amount_sun", "must be positive"),
        ("payout.to", "not a TRON address"),
    ]


@pytest.mark.parametrize(
    ("request_body", "kind", "name"), [(b"not_found", "invoice", "inv_42"), (b"exists", "payout", "po_7")]
)
async def test_not_found_and_already_exists_name_the_resource(
    channel: grpc.aio.Channel, request_body: bytes, kind: str, name: str
) -> None:
    resource = details_of(rich_status(await fail_unary(channel, request_body)))["ResourceInfo"]
    assert isinstance(resource, error_details_pb2.ResourceInfo)
    assert (resource.resource_type, resource.resource_name) == (kind, name)


async def test_failed_precondition_names_the_subject_and_the_reason(channel: grpc.aio.Channel) -> None:
    failure = details_of(rich_status(await fail_unary(channel, b"precondition")))["PreconditionFailure"]
    assert isinstance(failure, error_details_pb2.PreconditionFailure)
    [violation] = failure.violations
    assert (violation.type, violation.subject, violation.description) == (
        "INSUFFICIENT_ENERGY",
        "TXyzAddress",
        "not enough energy",
    )


async def test_unavailable_with_a_hint_says_when_to_retry(channel: grpc.aio.Channel) -> None:
    retry = details_of(rich_status(await fail_unary(channel, b"unavailable")))["RetryInfo"]
    assert isinstance(retry, error_details_pb2.RetryInfo)
    assert retry.retry_delay.ToNanoseconds() == 1_500_000_000


async def test_unavailable_without_a_hint_has_no_retry_info(channel: grpc.aio.Channel) -> None:
    assert "RetryInfo" not in details_of(rich_status(await fail_unary(channel, b"unavailable_no_hint")))


async def test_the_request_id_is_in_the_details_and_the_trailing_metadata(channel: grpc.aio.Channel) -> None:
    error = await fail_unary(channel, b"not_found", metadata=((REQUEST_ID_HEADER, "req-from-caller"),))
    info = details_of(rich_status(error))["RequestInfo"]
    assert isinstance(info, error_details_pb2.RequestInfo)
    assert info.request_id == "req-from-caller"
    assert trailing(error, REQUEST_ID_HEADER) == "req-from-caller"


async def test_a_successful_call_that_used_its_request_id_echoes_the_generated_one(
    channel: grpc.aio.Channel,
) -> None:
    call = channel.unary_unary(f"/{SERVICE}/Identify")(b"hello")
    used = (await call).decode()
    assert re.fullmatch(r"[0-9a-f]{32}", used)
    assert trailing(await call.trailing_metadata(), REQUEST_ID_HEADER) == used


async def test_a_successful_call_that_never_used_a_request_id_makes_none(channel: grpc.aio.Channel) -> None:
    call = channel.unary_unary(f"/{SERVICE}/Unary")(b"hello")
    assert await call == b"ok:hello"
    assert trailing(await call.trailing_metadata(), REQUEST_ID_HEADER) is None


async def test_a_malformed_request_id_is_replaced(channel: grpc.aio.Channel) -> None:
    metadata = ((REQUEST_ID_HEADER, 'bad id" level=ERROR'),)
    call = channel.unary_unary(f"/{SERVICE}/Identify")(b"x", metadata=metadata)
    assert re.fullmatch(r"[0-9a-f]{32}", (await call).decode())


@pytest.fixture
def error_log() -> Iterator[io.StringIO]:
    """The mesh's error log lines, as JSON."""
    text = io.StringIO()
    handler = logging.StreamHandler(text)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter("errors-test"))
    logger = logging.getLogger("lucid_tron.mesh.errors")
    logger.addHandler(handler)
    yield text
    logger.removeHandler(handler)


async def test_an_unexpected_exception_is_internal_with_only_the_request_id(
    channel: grpc.aio.Channel, error_log: io.StringIO
) -> None:
    error = await fail_unary(channel, b"bug", metadata=((REQUEST_ID_HEADER, "req-bug-1"),))
    assert error.code() is grpc.StatusCode.INTERNAL
    assert error.details() == "internal error (request_id=req-bug-1)"
    assert "secret internals" not in str(rich_status(error))
    assert trailing(error, REQUEST_ID_HEADER) == "req-bug-1"
    [line] = [json.loads(text) for text in error_log.getvalue().splitlines()]
    assert line["level"] == "ERROR"
    assert line["request_id"] == "req-bug-1"
    assert "KeyError: 'secret internals'" in line["exc"]


async def test_the_server_keeps_serving_after_an_unexpected_exception(channel: grpc.aio.Channel) -> None:
    await fail_unary(channel, b"bug")
    assert await channel.unary_unary(f"/{SERVICE}/Unary")(b"again") == b"ok:again"


@pytest.mark.parametrize("method", ["ServerStream", "ServerWrite"])
async def test_server_streaming_errors_are_mapped_after_the_messages_already_sent(
    channel: grpc.aio.Channel, method: str
) -> None:
    call = channel.unary_stream(f"/{SERVICE}/{method}")(b"not_found")
    received = []
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for message in call:
            received.append(message)
    assert received == [b"first"]
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND
    assert "ResourceInfo" in details_of(rich_status(caught.value))


async def test_client_streaming_errors_are_mapped(channel: grpc.aio.Channel) -> None:
    async def requests() -> AsyncIterator[bytes]:
        yield b"ignored"
        yield b"invalid"

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await channel.stream_unary(f"/{SERVICE}/ClientStream")(requests())
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "BadRequest" in details_of(rich_status(caught.value))


async def test_bidi_streaming_unexpected_errors_are_internal(channel: grpc.aio.Channel) -> None:
    call = channel.stream_stream(f"/{SERVICE}/BidiStream")()
    await call.write(b"ping")
    assert await call.read() == b"ping"
    await call.write(b"bug")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call.read()
    assert caught.value.code() is grpc.StatusCode.INTERNAL
    assert caught.value.details().startswith("internal error (request_id=")


async def test_an_unknown_method_is_unimplemented(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await channel.unary_unary(f"/{SERVICE}/NoSuchMethod")(b"")
    assert caught.value.code() is grpc.StatusCode.UNIMPLEMENTED

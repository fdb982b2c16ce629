"""Building blocks for the mesh's integration tests: services made of generic handlers over raw bytes.

The project's own protos are written elsewhere; the mesh must work for any service, so its tests register
services through `grpc.method_handlers_generic_handler` with identity serializers (requests and responses are
plain bytes) and talk to them through real channels.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from lucid_tron.mesh import Registration


def identity(payload: bytes) -> bytes:
    return payload


def generic_service(name: str, methods: dict[str, grpc.RpcMethodHandler]) -> Registration:
    """A Registration for service `name` (e.g. "test.mesh.Echo") made of generic byte handlers."""
    handler = grpc.method_handlers_generic_handler(name, methods)

    def add_to_server(_servicer: object, server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers((handler,))

    return Registration(add_to_server, None, name)


def unary_unary(behavior: Callable[..., object]) -> grpc.RpcMethodHandler:
    return grpc.unary_unary_rpc_method_handler(behavior, identity, identity)


def unary_stream(behavior: Callable[..., object]) -> grpc.RpcMethodHandler:
    return grpc.unary_stream_rpc_method_handler(behavior, identity, identity)


def stream_unary(behavior: Callable[..., object]) -> grpc.RpcMethodHandler:
    return grpc.stream_unary_rpc_method_handler(behavior, identity, identity)


def stream_stream(behavior: Callable[..., object]) -> grpc.RpcMethodHandler:
    return grpc.stream_stream_rpc_method_handler(behavior, identity, identity)


def rich_status(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    """The google.rpc.Status a failed call carried (grpc_status checks that code and message agree)."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, f"no google.rpc.Status in {error.trailing_metadata()!r}"
    return status


DETAIL_TYPES: dict[str, type[Message]] = {
    cls.DESCRIPTOR.full_name: cls
    for cls in (
        error_details_pb2.ErrorInfo,
        error_details_pb2.RequestInfo,
        error_details_pb2.BadRequest,
        error_details_pb2.ResourceInfo,
        error_details_pb2.PreconditionFailure,
        error_details_pb2.RetryInfo,
        error_details_pb2.QuotaFailure,
    )
}


def details_of(status: status_pb2.Status) -> dict[str, Message]:
    """The status details unpacked, keyed by short type name ("BadRequest")."""
    unpacked: dict[str, Message] = {}
    for packed in status.details:
        assert isinstance(packed, any_pb2.Any)
        message = DETAIL_TYPES[packed.TypeName()]()
        packed.Unpack(message)
        unpacked[message.DESCRIPTOR.name] = message
    return unpacked


def trailing(error_or_metadata: grpc.aio.AioRpcError | grpc.aio.Metadata | None, key: str) -> str | bytes | None:
    """The value of one trailing metadata key of a failed call or of a call's trailing metadata."""
    if isinstance(error_or_metadata, grpc.aio.AioRpcError):
        error_or_metadata = error_or_metadata.trailing_metadata()
    metadata = error_or_metadata
    return next((value for name, value in metadata or () if name == key), None)

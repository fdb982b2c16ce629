"""Forward any call, as raw bytes, to the one service behind the sidecar: no stubs, every RPC shape.

The sidecar is a grpc.aio server whose one generic handler answers every method but health (the sidecar's own), so
the mesh runtime wraps it like any handler: the ACL check runs first, before a byte of the request is read. What
passes is forwarded on a channel of its own mTLS to the backend (`Backend`), and the backend's answer comes back
unchanged: messages as bytes (identity serializers), initial metadata, status code and message, trailing metadata
(with grpc-status-details-bin, so rich error details survive) and the caller's invocation metadata, without the
headers that belong to one hop (HTTP/2 pseudo-headers, te, content-type, user-agent, grpc-timeout, encodings), and
when the sidecar audited the call, with the request id its audit line names. The caller's remaining time is passed on as the backend call's timeout, and a cancelled caller cancels the backend call.

grpc Python needs a handler of a definite shape. For the methods of the generated descriptors (`known_shapes`), the
sidecar uses the method's own shape (unary calls take grpc's cheaper unary path); any other method is forwarded as
stream-stream, which carries any shape on the wire (one request and one response are a stream of one).
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

import grpc
from grpc_health.v1 import health

from lucid_tron.context import REQUEST_ID_HEADER
from lucid_tron.context._scope import current_scope

__all__ = ["Backend", "Forwarder", "known_shapes"]

# Headers of one hop, set again by grpc on the backend call; everything else the caller sent is forwarded.
HOP_BY_HOP = frozenset(
    {
        ":authority",
        ":method",
        ":path",
        ":scheme",
        "connection",
        "content-type",
        "grpc-accept-encoding",
        "grpc-encoding",
        "grpc-timeout",
        "host",
        "te",
        "transfer-encoding",
        "user-agent",
    }
)

# A caller can name any method: only this many get a cached handler.
_MAX_CACHED_METHODS = 1024

_HEALTH_PREFIX = f"/{health.SERVICE_NAME}/"

Shape = tuple[bool, bool]  # (request streaming, response streaming)
_ANY_SHAPE: Shape = (True, True)


def known_shapes() -> dict[str, Shape]:
    """The shape of every method in the generated descriptors of lucid.tron.v1 and of server reflection."""
    from grpc_reflection.v1alpha import reflection_pb2

    import lucid.tron.v1

    files = [reflection_pb2.DESCRIPTOR]
    for module in pkgutil.iter_modules(lucid.tron.v1.__path__):
        if module.name.endswith("_pb2"):
            files.append(importlib.import_module(f"lucid.tron.v1.{module.name}").DESCRIPTOR)
    return {
        f"/{service.full_name}/{method.name}": (method.client_streaming, method.server_streaming)
        for file in files
        for service in file.services_by_name.values()
        for method in service.methods
    }


class Backend:
    """The channel to the service behind the sidecar, opened in the server's event loop (`open`), and reopened when
    the sidecar's client certificate is rotated."""

    def __init__(self, target: str, credentials: Callable[[], grpc.ChannelCredentials | None]) -> None:
        self.target = target
        self._credentials = credentials
        self._channel: grpc.aio.Channel | None = None
        # (method, shape) -> the channel's multicallable, made once per channel: not per call.
        self._multicallables: dict[tuple[str, Shape], Any] = {}

    async def open(self) -> None:
        # A grpc.aio channel belongs to the loop it was made in: not at build time, before the loop runs.
        self._channel = self._open(self._credentials())

    def _open(self, credentials: grpc.ChannelCredentials | None) -> grpc.aio.Channel:
        if credentials is None:
            return grpc.aio.insecure_channel(self.target)
        return grpc.aio.secure_channel(self.target, credentials)

    def channel(self) -> grpc.aio.Channel:
        if self._channel is None:
            raise RuntimeError("the backend channel is used before open()")
        return self._channel

    def multicallable(self, method: str, shape: Shape) -> Any:
        """The backend's `method` as a call of `shape`, bytes in and out."""
        made = self._multicallables.get((method, shape))
        if made is None:
            channel = self.channel()
            make = {
                (False, False): channel.unary_unary,
                (False, True): channel.unary_stream,
                (True, False): channel.stream_unary,
                (True, True): channel.stream_stream,
            }[shape]
            made = make(method)
            if len(self._multicallables) < _MAX_CACHED_METHODS:
                self._multicallables[(method, shape)] = made
        return made

    def reopen(self, credentials: grpc.ChannelCredentials) -> None:
        """Use new credentials from the next call on; calls in flight finish on the old channel, closed with grace."""
        self._multicallables.clear()
        old, self._channel = self._channel, self._open(credentials)
        if old is not None:
            asyncio.get_running_loop().call_later(30, lambda: asyncio.ensure_future(old.close()))

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()


class Forwarder(grpc.GenericRpcHandler):
    """The generic handler that forwards every method but grpc.health.v1 to `backend`."""

    def __init__(self, backend: Backend, shapes: Mapping[str, Shape], before_call: Callable[[], None]) -> None:
        self._backend = backend
        self._shapes = shapes
        self._before_call = before_call
        self._handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any] | None:
        method = handler_call_details.method
        if method.startswith(_HEALTH_PREFIX):
            return None  # the sidecar's own health answers
        handler = self._handlers.get(method)
        if handler is None:
            handler = self._handler(method, self._shapes.get(method, _ANY_SHAPE))
            if len(self._handlers) < _MAX_CACHED_METHODS:
                self._handlers[method] = handler
        return handler

    def _handler(self, method: str, shape: Shape) -> grpc.RpcMethodHandler[Any, Any]:
        backend, before_call = self._backend, self._before_call
        requests_stream, responses_stream = shape

        def call(context: grpc.aio.ServicerContext[Any, Any]) -> tuple[Any, dict[str, Any]]:
            before_call()
            metadata = forwarded(context.invocation_metadata())
            scope = current_scope()
            if scope is not None and scope.id_used:
                # The sidecar's audit line named the call: the backend's logs name it alike (the caller's id when
                # it sent a well-formed one, else the one the sidecar made and echoes).
                metadata = (*forwarded(metadata, REQUEST_ID_HEADER), (REQUEST_ID_HEADER, scope.request_id))
            return backend.multicallable(method, shape), {"metadata": metadata, "timeout": context.time_remaining()}

        if not responses_stream:

            async def single(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
                multicallable, options = call(context)
                outgoing = multicallable(request, **options)
                try:
                    response = await outgoing
                except grpc.aio.AioRpcError as failure:
                    await _relay_failure(context, failure)
                except asyncio.CancelledError:
                    outgoing.cancel()
                    raise
                await _relay_initial(context, outgoing)
                await _relay_success(context, outgoing)
                return response  # type: ignore[no-any-return]

            make_handler = grpc.stream_unary_rpc_method_handler if requests_stream else grpc.unary_unary_rpc_method_handler
            return make_handler(single)

        async def streaming(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[bytes]:
            multicallable, options = call(context)
            outgoing = multicallable(request, **options)
            try:
                await _relay_initial(context, outgoing)
                async for response in outgoing:
                    yield response
            except grpc.aio.AioRpcError as failure:
                await _relay_failure(context, failure)
            except BaseException:
                # The caller went away (CancelledError, GeneratorExit): the backend call must not outlive it.
                outgoing.cancel()
                raise
            await _relay_success(context, outgoing)

        make_stream = grpc.stream_stream_rpc_method_handler if requests_stream else grpc.unary_stream_rpc_method_handler
        return make_stream(streaming)


def forwarded(metadata: Iterable[tuple[str, Any]] | None, *also: str) -> tuple[tuple[str, Any], ...]:
    """`metadata` without the headers that belong to one hop (and without the keys `also`)."""
    return tuple((key, value) for key, value in metadata or () if key not in HOP_BY_HOP and key not in also)


async def _relay_initial(context: grpc.aio.ServicerContext[Any, Any], outgoing: Any) -> None:
    # Without metadata of the backend's own, grpc sends the headers with the first message: no separate write.
    initial = forwarded(await outgoing.initial_metadata())
    if initial:
        await context.send_initial_metadata(initial)


async def _relay_success(context: grpc.aio.ServicerContext[Any, Any], outgoing: Any) -> None:
    trailing = await outgoing.trailing_metadata()
    if trailing:
        context.set_trailing_metadata(forwarded(trailing))


async def _relay_failure(context: grpc.aio.ServicerContext[Any, Any], failure: grpc.aio.AioRpcError) -> None:
    """End the call as the backend ended it: code, message, trailers (rich details included). Raises AbortError.

    A backend that could not be reached answered nothing: the caller gets UNAVAILABLE without grpc's connection
    error text, which names the backend's address.
    """
    trailing = forwarded(failure.trailing_metadata())
    details = failure.details() or ""
    if failure.code() is grpc.StatusCode.UNAVAILABLE and not trailing:
        details = "the service behind beta-sidecar is unavailable"
    await context.abort(failure.code(), details, trailing)

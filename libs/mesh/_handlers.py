"""Put the mesh runtime around a grpc.aio method handler, once, at registration, whatever the RPC's shape.

The runtime is a request scope (request id, deadline: `_request`) and the error mapping (`_errors`). They are one
wrapper around the servicer's behavior, built when the service is registered: `RuntimeServer` is the grpc.aio
server every service registers on, and it wraps each handler it is given (registered method handlers and generic
handlers alike, health and reflection included). Per call that leaves a plain `try`/`except` around the behavior,
with no grpc.aio server interceptor: an interceptor is awaited on every call and must hand back a handler, so
acting around the call meant building new closures, inspecting the behavior and copying the handler each time.
Tracing, when on, is the one interceptor (`wrap_handler`, below): it runs around this wrapper.

grpc decides how to drive a behavior by what kind of function it is, so a wrapper of an async generator
(server-streaming written with `yield`) must itself be an async generator, and a wrapper of a coroutine function
must be one. This module does that, for all four RPC shapes.

A method a servicer inherits from its generated `XServicer` base is the one synchronous behavior accepted: it is
the placeholder of an RPC no issue has implemented yet. It is replaced by an async behavior that raises
NotImplementedError, which the error mapping answers with UNIMPLEMENTED (the generated body would set the code and
then raise into grpc.aio, which has no thread pool to run it and answers UNKNOWN).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import grpc

from lucid_tron.errors import InvalidArgument
from lucid_tron.mesh._errors import answer_error
from lucid_tron.mesh._request import open_request_scope

# Given the RPC's ServicerContext, returns the context manager to run the behavior in.
Around = Callable[[grpc.aio.ServicerContext[Any, Any]], AbstractAsyncContextManager[None]]

# Methods whose wrapped handler a generic handler keeps: a generic handler may answer any method name a caller
# sends, and callers must not grow the cache without end.
_MAX_CACHED_METHODS = 1024


def serve_in_runtime(handler: grpc.RpcMethodHandler[Any, Any], method: str) -> grpc.RpcMethodHandler[Any, Any]:
    """Return `handler` with its behavior run in the request scope, its errors mapped to statuses.

    `method` is the full method name ("/package.Service/Method"), for error messages and logs. Only async behaviors
    are supported (and the generated placeholders): the mesh does not run handlers in threads.
    """
    kind, behavior = _behavior(handler)
    parse, parses_request = _request_parser(handler)
    if inspect.isasyncgenfunction(behavior):

        async def streaming(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            request_id = open_request_scope(context)
            try:
                async for response in behavior(parse(request), context):
                    yield response
            except grpc.aio.AbortError:
                raise  # the status is already decided (e.g. the health servicer's NOT_FOUND)
            except Exception as error:
                await answer_error(context, method, request_id, error)

        return _replaced(handler, kind, streaming, parses_request)

    async def single(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        request_id = open_request_scope(context)
        try:
            return await behavior(parse(request), context)
        except grpc.aio.AbortError:
            raise
        except Exception as error:
            await answer_error(context, method, request_id, error)

    return _replaced(handler, kind, single, parses_request)


def wrap_handler(
    handler: grpc.RpcMethodHandler[Any, Any] | None, around: Around
) -> grpc.RpcMethodHandler[Any, Any] | None:
    """Return `handler` with its behavior run inside `around(context)`; None (unknown method) stays None.

    For a server interceptor (tracing), which must wrap on every call: the runtime itself uses `serve_in_runtime`.
    """
    if handler is None:
        return None
    kind, behavior = _behavior(handler)
    if inspect.isasyncgenfunction(behavior):

        async def streaming(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            async with around(context):
                async for response in behavior(request, context):
                    yield response

        return _replaced(handler, kind, streaming)

    async def single(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        async with around(context):
            return await behavior(request, context)

    return _replaced(handler, kind, single)


class RuntimeServer(grpc.aio.Server):
    """A grpc.aio server whose handlers, however registered, run in the mesh runtime (`serve_in_runtime`).

    Every registration goes through it: the generated `add_XServicer_to_server` (which registers the same handlers
    twice, by method name and as a generic handler), `add_generic_rpc_handlers` of hand-made services, health and
    reflection. It is a `grpc.aio.Server` so that code choosing by type (grpc_reflection) sees one.
    """

    def __init__(self, server: grpc.aio.Server) -> None:
        self._server = server

    def add_registered_method_handlers(
        self, service_name: str, method_handlers: Mapping[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        self._server.add_registered_method_handlers(
            service_name,
            {
                name: serve_in_runtime(handler, f"/{service_name}/{name}")
                for name, handler in method_handlers.items()
            },
        )

    def add_generic_rpc_handlers(self, generic_rpc_handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers([_RuntimeGenericHandler(h) for h in generic_rpc_handlers])

    def add_insecure_port(self, address: str) -> int:
        return self._server.add_insecure_port(address)

    def add_secure_port(self, address: str, server_credentials: grpc.ServerCredentials) -> int:
        return self._server.add_secure_port(address, server_credentials)

    async def start(self) -> None:
        await self._server.start()

    async def stop(self, grace: float | None) -> None:
        await self._server.stop(grace)

    async def wait_for_termination(self, timeout: float | None = None) -> bool:
        return await self._server.wait_for_termination(timeout)


class _RuntimeGenericHandler(grpc.GenericRpcHandler):
    """A generic handler whose answers run in the runtime, each method wrapped the first time it is called."""

    def __init__(self, inner: grpc.GenericRpcHandler) -> None:
        self._inner = inner
        # method -> (the inner handler, its wrapped version); the inner is kept to notice a generic handler that
        # answers one method with different handlers over time.
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler[Any, Any], grpc.RpcMethodHandler[Any, Any]]] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = self._inner.service(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = serve_in_runtime(handler, method)
        if cached is not None or len(self._wrapped) < _MAX_CACHED_METHODS:
            self._wrapped[method] = (handler, wrapped)
        return wrapped


def _behavior(handler: grpc.RpcMethodHandler[Any, Any]) -> tuple[str, Callable[..., Any]]:
    """The handler's kind ("unary_unary"...) and its async behavior; raises TypeError for a synchronous one."""
    kind = _KINDS[(handler.request_streaming, handler.response_streaming)]
    behavior = getattr(handler, kind)
    if _is_generated_placeholder(behavior):
        behavior = _not_implemented_stream if handler.response_streaming else _not_implemented
    if not (inspect.isasyncgenfunction(behavior) or inspect.iscoroutinefunction(behavior)):
        raise TypeError(f"{kind} handler {behavior!r} must be `async def` (or an async generator)")
    return kind, behavior


def _is_generated_placeholder(behavior: Callable[..., Any]) -> bool:
    """True for a method inherited, unimplemented, from a generated servicer base (a `*_pb2_grpc` module).

    Only synchronous ones: the generator emits plain `def`s, and an `async def` from such a module is not its work.
    """
    function = getattr(behavior, "__func__", behavior)
    module = getattr(function, "__module__", None) or ""
    return module.endswith("_pb2_grpc") and not inspect.iscoroutinefunction(function)


async def _not_implemented(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
    raise NotImplementedError


async def _not_implemented_stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
    raise NotImplementedError
    yield  # an async generator, as grpc.aio expects of a server-streaming behavior


def _request_parser(handler: grpc.RpcMethodHandler[Any, Any]) -> tuple[Callable[[Any], Any], bool]:
    """How the wrapper turns the request into a message, and whether it took that job from grpc.

    grpc parses a request before any handler runs and answers a corrupt one with UNKNOWN and the parser's own error
    text. For a single request message the wrapper parses it instead, so a corrupt one is INVALID_ARGUMENT naming
    the request, like any other bad input. (Request streams keep grpc's parsing: no RPC of ours takes one.)
    """
    deserialize = handler.request_deserializer
    if handler.request_streaming or deserialize is None:
        return _as_is, False

    def parse(raw: bytes) -> Any:
        try:
            return deserialize(raw)
        except Exception as error:  # protobuf raises DecodeError; any parser failure is the caller's bad bytes
            raise InvalidArgument.field("request", f"not a valid request message ({type(error).__name__})") from None

    return parse, True


def _as_is(request: Any) -> Any:
    return request


def _replaced(
    handler: grpc.RpcMethodHandler[Any, Any], kind: str, behavior: Callable[..., Any], parses_request: bool = False
) -> grpc.RpcMethodHandler[Any, Any]:
    # grpc's method handlers are namedtuples (grpc._utilities.RpcMethodHandler), though typed as an abstract class.
    changes: dict[str, Any] = {kind: behavior}
    if parses_request:
        changes["request_deserializer"] = None  # the behavior gets the raw bytes and parses them itself
    replaced: grpc.RpcMethodHandler[Any, Any] = handler._replace(**changes)  # type: ignore[attr-defined]
    return replaced


_KINDS = {
    (False, False): "unary_unary",
    (False, True): "unary_stream",
    (True, False): "stream_unary",
    (True, True): "stream_stream",
}

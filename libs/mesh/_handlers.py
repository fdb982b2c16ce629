"""Wrap a grpc.aio method handler in an async context manager, whatever the RPC's shape.

grpc.aio's ServerInterceptor only hands out the handler, not the call; to act around the call itself (set
contextvars from the ServicerContext, open a span, turn exceptions into statuses) each interceptor replaces the
handler's behavior. grpc decides how to drive a behavior by what kind of function it is, so a wrapper of an
async generator (server-streaming written with `yield`) must itself be an async generator, and a wrapper of a
coroutine function must be one. This module does that once, for all four RPC shapes.

A method a servicer inherits from its generated `XServicer` base is the one synchronous behavior accepted: it is
the placeholder of an RPC no issue has implemented yet. It is replaced by an async behavior that raises
NotImplementedError, which the error mapping answers with UNIMPLEMENTED (the generated body would set the code and
then raise into grpc.aio, which has no thread pool to run it and answers UNKNOWN).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import grpc

# Given the RPC's ServicerContext, returns the context manager to run the behavior in.
Around = Callable[[grpc.aio.ServicerContext[Any, Any]], AbstractAsyncContextManager[None]]


def wrap_handler(
    handler: grpc.RpcMethodHandler[Any, Any] | None, around: Around
) -> grpc.RpcMethodHandler[Any, Any] | None:
    """Return `handler` with its behavior run inside `around(context)`; None (unknown method) stays None.

    Only async behaviors are supported: the mesh does not run handlers in threads.
    """
    if handler is None:
        return None
    kind = _KINDS[(handler.request_streaming, handler.response_streaming)]
    behavior = getattr(handler, kind)
    if _is_generated_placeholder(behavior):
        behavior = _not_implemented_stream if handler.response_streaming else _not_implemented
    if inspect.isasyncgenfunction(behavior):

        async def streaming(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            async with around(context):
                async for response in behavior(request, context):
                    yield response

        return _replaced(handler, kind, streaming)
    if inspect.iscoroutinefunction(behavior):

        async def single(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            async with around(context):
                return await behavior(request, context)

        return _replaced(handler, kind, single)
    raise TypeError(f"{kind} handler {behavior!r} must be `async def` (or an async generator)")


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


def _replaced(
    handler: grpc.RpcMethodHandler[Any, Any], kind: str, behavior: Callable[..., Any]
) -> grpc.RpcMethodHandler[Any, Any]:
    # grpc's method handlers are namedtuples (grpc._utilities.RpcMethodHandler), though typed as an abstract class.
    replaced: grpc.RpcMethodHandler[Any, Any] = handler._replace(**{kind: behavior})  # type: ignore[attr-defined]
    return replaced


_KINDS = {
    (False, False): "unary_unary",
    (False, True): "unary_stream",
    (True, False): "stream_unary",
    (True, True): "stream_stream",
}

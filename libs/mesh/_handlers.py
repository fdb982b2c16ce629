"""Put the mesh runtime around a grpc.aio method handler, once, at registration, whatever the RPC's shape.

The runtime is one wrapper around the servicer's behavior, built when the service is registered: it opens the
request scope (`lucid_tron.context`: request id, deadline and principal, each worked out on first use), applies the
ACL policy before the request is parsed (`_acl`: this is the mesh's ACL interceptor), counts the call in
the metrics (`_metrics`, when METRICS_PORT is set), runs it in a span (`_otel`, when tracing is on) and maps its
errors (`_errors`). `RuntimeServer` is the grpc.aio server every service
registers on, and it wraps each handler it is given (registered method handlers and generic handlers alike, health
and reflection included, which are neither counted nor traced). Per call that leaves a plain `try`/`except` around
the behavior, with no grpc.aio server interceptor: an interceptor is awaited on every call and must hand back a
handler, so acting around the call meant building new closures and a new handler each time. Everything a call needs
that does not depend on the call (its metric series, its span name and attributes, the request parser) is prepared
here, once per method.

grpc decides how to drive a behavior by what kind of function it is, so a wrapper of an async generator
(server-streaming written with `yield`) must itself be an async generator, and a wrapper of a coroutine function
must be one. This module does that, for all four RPC shapes, and builds the new handler with grpc's public
`*_rpc_method_handler` constructors.

A method a servicer inherits from its generated `XServicer` base is the one synchronous behavior accepted: it is
the placeholder of an RPC no issue has implemented yet. It is replaced by an async behavior that raises
NotImplementedError, which the error mapping answers with UNIMPLEMENTED (the generated body would set the code and
then raise into grpc.aio, which has no thread pool to run it and answers UNKNOWN).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health
from grpc_reflection.v1alpha import reflection

from lucid_tron.context._scope import REQUEST_ID_HEADER, open_scope
from lucid_tron.errors import InvalidArgument
from lucid_tron.mesh._acl import refuse
from lucid_tron.mesh._errors import answer_error
from lucid_tron.mesh._tracing import Span, Spans

if TYPE_CHECKING:
    from lucid_tron.mesh._acl import AclGate
    from lucid_tron.mesh._metrics import MethodMetrics, RpcMetrics

# Probes and tooling, polled every few seconds: counting or tracing them would bury the real traffic.
UNOBSERVED_SERVICES = frozenset({health.SERVICE_NAME, reflection.SERVICE_NAME})

# Methods whose wrapped handler a generic handler keeps: a generic handler may answer any method name a caller
# sends, and callers must not grow the cache without end.
_MAX_CACHED_METHODS = 1024

_OK = grpc.StatusCode.OK
_CANCELLED = grpc.StatusCode.CANCELLED
_UNKNOWN = grpc.StatusCode.UNKNOWN


@dataclass(frozen=True)
class Runtime:
    """What the wrapper of every handler of one server does besides the request scope and the error mapping."""

    #: The deadline of an RPC whose caller set none or a later one (CALL_TIMEOUT_S).
    call_timeout_s: float | None = None
    metrics: RpcMetrics | None = None
    spans: Spans | None = None
    #: The ACL policy of the server; None: no check at all (tests of the runtime alone).
    acl: AclGate | None = None


def serve_in_runtime(
    handler: grpc.RpcMethodHandler[Any, Any], method: str, runtime: Runtime
) -> grpc.RpcMethodHandler[Any, Any]:
    """Return `handler` with its behavior run in the request scope, counted, traced, its errors mapped to statuses.

    `method` is the full method name ("/package.Service/Method"), for metrics, spans, error messages and logs. Only
    async behaviors are supported (and the generated placeholders): the mesh does not run handlers in threads.
    """
    behavior = _behavior(handler)
    parse, parses_request = _request_parser(handler)
    service = method.lstrip("/").partition("/")[0]
    observed = service not in UNOBSERVED_SERVICES
    # Health is open: probes (docker, Kubernetes, grpc_health_probe) present no identity.
    gate = None if runtime.acl is None or service == health.SERVICE_NAME else runtime.acl.method(method)
    counted = runtime.metrics.method(method) if observed and runtime.metrics is not None else None
    spans = runtime.spans if observed else None
    call_timeout_s = runtime.call_timeout_s
    if inspect.isasyncgenfunction(behavior):

        async def streaming(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            # A stream (WatchInvoice) lasts as long as its caller wants: only the caller's deadline bounds it, not
            # CALL_TIMEOUT_S, which would cut every watch after 30 s. Each query it makes is bounded on its own.
            scope = open_scope(context, None)
            if counted is not None:
                counted.in_flight += 1
            started = time.perf_counter()
            code: grpc.StatusCode | None = _OK
            span = None if spans is None else spans.start(context, method)
            try:
                if gate is not None and (refusal := gate.check(scope)) is not None:
                    await refuse(context, refusal, scope.request_id)
                async for response in behavior(parse(request), context):
                    yield response
                if scope.id_used:
                    _echo_request_id(context, scope.request_id)
            except grpc.aio.AbortError:
                code = None  # already decided (e.g. the health servicer's NOT_FOUND): the context holds it
                raise
            except asyncio.CancelledError:
                code = _CANCELLED
                raise
            except Exception as error:
                code = None  # the error mapping decides it
                await answer_error(context, method, scope.request_id, error)
            finally:
                _ended(context, code, started, counted, span)

        return _rebuilt(handler, streaming, parses_request)

    async def single(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        scope = open_scope(context, call_timeout_s)
        if counted is not None:
            counted.in_flight += 1
        started = time.perf_counter()
        code: grpc.StatusCode | None = _OK
        span = None if spans is None else spans.start(context, method)
        try:
            # Before the request is parsed: a caller that may not call the method learns nothing from its bytes.
            if gate is not None and (refusal := gate.check(scope)) is not None:
                await refuse(context, refusal, scope.request_id)
            response = await behavior(parse(request), context)
            if scope.id_used:
                # Echoed only when something used it (a log line, a call onwards): a caller's report then finds
                # the server's lines. Aborting sends it too (see _errors), as it replaces the trailing metadata.
                _echo_request_id(context, scope.request_id)
            return response
        except grpc.aio.AbortError:
            code = None
            raise
        except asyncio.CancelledError:
            code = _CANCELLED
            raise
        except Exception as error:
            code = None  # the error mapping decides it
            await answer_error(context, method, scope.request_id, error)
        finally:
            _ended(context, code, started, counted, span)

    return _rebuilt(handler, single, parses_request)


def _echo_request_id(context: grpc.aio.ServicerContext[Any, Any], request_id: str) -> None:
    """Add the request id to the trailers the behavior set (a proxied backend's, in beta-sidecar), unless there."""
    trailing = tuple(context.trailing_metadata() or ())
    if not any(key == REQUEST_ID_HEADER for key, _ in trailing):
        context.set_trailing_metadata((*trailing, (REQUEST_ID_HEADER, request_id)))


def _ended(
    context: grpc.aio.ServicerContext[Any, Any],
    code: grpc.StatusCode | None,
    started: float,
    counted: MethodMetrics | None,
    span: Span | None,
) -> None:
    """Count the call and end its span; `code` None: the call was aborted, and the context holds the code."""
    if code is None:
        code = context.code() or _UNKNOWN
    if counted is not None:
        counted.in_flight -= 1
        counted.ended(code, time.perf_counter() - started)
    if span is not None:
        span.end(code)


class RuntimeServer(grpc.aio.Server):
    """A grpc.aio server whose handlers, however registered, run in the mesh runtime (`serve_in_runtime`).

    Every registration goes through it: the generated `add_XServicer_to_server` (which registers the same handlers
    twice, by method name and as a generic handler), `add_generic_rpc_handlers` of hand-made services, health and
    reflection. It is a `grpc.aio.Server` so that code choosing by type (grpc_reflection) sees one.
    """

    def __init__(self, server: grpc.aio.Server, runtime: Runtime) -> None:
        self._server = server
        self._runtime = runtime

    def add_registered_method_handlers(
        self, service_name: str, method_handlers: Mapping[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        # Served as a generic handler, not as grpc.aio's registered methods: grpc.aio (1.85) keeps a pending request
        # for every registered method and waits on all of them for each incoming call, so every registered method
        # made every call of the process dearer (health's two alone took a bare echo from 2 to 5 futures waited on
        # per call). A generic lookup is a dict lookup in Python. The generated add_XServicer_to_server registers
        # the same handlers as a generic handler first, which then answers; this one serves hand-made services.
        wrapped = {
            name: serve_in_runtime(handler, f"/{service_name}/{name}", self._runtime)
            for name, handler in method_handlers.items()
        }
        self._server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(service_name, wrapped)])

    def add_generic_rpc_handlers(self, generic_rpc_handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers([_RuntimeGenericHandler(h, self._runtime) for h in generic_rpc_handlers])

    def add_insecure_port(self, address: str) -> int:
        return self._server.add_insecure_port(address)

    def add_secure_port(self, address: str, server_credentials: grpc.ServerCredentials) -> int:
        # Callers on a TLS port have an identity: from now on the ACL is enforced (a call without one is refused).
        if self._runtime.acl is not None:
            self._runtime.acl.enforcing = True
        return self._server.add_secure_port(address, server_credentials)

    async def start(self) -> None:
        await self._server.start()

    async def stop(self, grace: float | None) -> None:
        await self._server.stop(grace)

    async def wait_for_termination(self, timeout: float | None = None) -> bool:
        return await self._server.wait_for_termination(timeout)


class _RuntimeGenericHandler(grpc.GenericRpcHandler):
    """A generic handler whose answers run in the runtime, each method wrapped the first time it is called."""

    def __init__(self, inner: grpc.GenericRpcHandler, runtime: Runtime) -> None:
        self._inner = inner
        self._runtime = runtime
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
        wrapped = serve_in_runtime(handler, method, self._runtime)
        if cached is not None or len(self._wrapped) < _MAX_CACHED_METHODS:
            self._wrapped[method] = (handler, wrapped)
        return wrapped


def _behavior(handler: grpc.RpcMethodHandler[Any, Any]) -> Callable[..., Any]:
    """The handler's async behavior; raises TypeError for a synchronous one."""
    kind, _ = _KINDS[(handler.request_streaming, handler.response_streaming)]
    behavior = getattr(handler, kind)
    if _is_generated_placeholder(behavior):
        behavior = _not_implemented_stream if handler.response_streaming else _not_implemented
    if not (inspect.isasyncgenfunction(behavior) or inspect.iscoroutinefunction(behavior)):
        raise TypeError(f"{kind} handler {behavior!r} must be `async def` (or an async generator)")
    return behavior


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


def _rebuilt(
    handler: grpc.RpcMethodHandler[Any, Any], behavior: Callable[..., Any], parses_request: bool
) -> grpc.RpcMethodHandler[Any, Any]:
    """A handler of the same shape and serializers as `handler`, running `behavior` (which parses the request
    itself when `parses_request`)."""
    _, make = _KINDS[(handler.request_streaming, handler.response_streaming)]
    deserialize = None if parses_request else handler.request_deserializer
    return make(behavior, request_deserializer=deserialize, response_serializer=handler.response_serializer)


# (request streaming, response streaming) -> the handler's behavior attribute, grpc's constructor of that shape.
_KINDS: dict[tuple[bool, bool], tuple[str, Callable[..., grpc.RpcMethodHandler[Any, Any]]]] = {
    (False, False): ("unary_unary", grpc.unary_unary_rpc_method_handler),
    (False, True): ("unary_stream", grpc.unary_stream_rpc_method_handler),
    (True, False): ("stream_unary", grpc.stream_unary_rpc_method_handler),
    (True, True): ("stream_stream", grpc.stream_stream_rpc_method_handler),
}

"""The OpenTelemetry side of tracing: a span per RPC, exported over OTLP/gRPC. Imported only when tracing is on.

A small interceptor on opentelemetry-api rather than opentelemetry-instrumentation-grpc: that package is one more
dependency (plus wrapt), and its aio server interceptor would wrap handlers a second time next to ours; here the
span shares the mesh's handler wrapping, skips health and reflection, and hands its trace id to the log lines.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import grpc
from grpc_health.v1 import health
from grpc_reflection.v1alpha import reflection
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from lucid_tron.context._ids import set_trace_id
from lucid_tron.mesh._handlers import wrap_handler

# Probes and tooling, polled every few seconds: spans for them would bury the real traffic.
_UNTRACED_SERVICES = frozenset({health.SERVICE_NAME, reflection.SERVICE_NAME})
# The codes that mean the server failed (OpenTelemetry's gRPC conventions); the others are the caller's problem.
_SERVER_ERRORS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
_PROPAGATOR = TraceContextTextMapPropagator()


class OtelTracing:
    """A tracer provider of its own (not the global one), so several servers in one test process do not clash."""

    def __init__(self, service: str, endpoint: str) -> None:
        self._provider = TracerProvider(resource=Resource.create({"service.name": service}))
        self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        self.interceptor: grpc.aio.ServerInterceptor = _SpanInterceptor(self._provider.get_tracer("lucid_tron.mesh"))

    def inject(self, metadata: grpc.aio.Metadata) -> None:
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        for key, value in carrier.items():
            metadata[key] = value

    def shutdown(self) -> None:
        self._provider.shutdown()


class _SpanInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        full_method = handler_call_details.method  # "/package.Service/Method"
        service, _, method = full_method.lstrip("/").partition("/")
        if service in _UNTRACED_SERVICES:
            return handler

        @asynccontextmanager
        async def traced(context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[None]:
            carrier = {key: value for key, value in context.invocation_metadata() or () if isinstance(value, str)}
            attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}
            with self._tracer.start_as_current_span(
                f"{service}/{method}",
                context=_PROPAGATOR.extract(carrier),
                kind=trace.SpanKind.SERVER,
                attributes=attributes,
                record_exception=False,
                set_status_on_exception=False,
            ) as span:
                set_trace_id(format(span.get_span_context().trace_id, "032x"))
                code = grpc.StatusCode.OK
                try:
                    yield
                except asyncio.CancelledError:
                    code = grpc.StatusCode.CANCELLED
                    raise
                except BaseException:
                    code = grpc.StatusCode.UNKNOWN
                    raise
                finally:
                    # The error interceptor runs inside this one: when it aborted, the context holds the final code.
                    code = context.code() or code
                    span.set_attribute("rpc.grpc.status_code", code.value[0])
                    if code in _SERVER_ERRORS:
                        span.set_status(trace.StatusCode.ERROR, code.name)

        return wrap_handler(handler, traced)

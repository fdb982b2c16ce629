"""The OpenTelemetry side of tracing: a span per sampled RPC, exported over OTLP/gRPC. Imported only when tracing is on.

A small integration on opentelemetry-api rather than opentelemetry-instrumentation-grpc: that package is one more
dependency (plus wrapt), and its aio server interceptor would wrap every handler again on every call; here the span
is started by the runtime's one wrapper (`_handlers`), with its name and attributes prepared once per method, health
and reflection skipped, and its trace id handed to the log lines.

Sampling: a caller's decision (the sampled flag of its traceparent) is followed (`ParentBased`); of the RPCs that
come without one, OTEL_TRACES_SAMPLER_ARG start a trace, decided here before anything is built: such an RPC that is
not sampled costs one random number (a non-recording span from the SDK cost ~15 us per call). Its calls onwards then
carry no traceparent, so the next service decides for itself at its own ratio.
"""

from __future__ import annotations

import random
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from lucid_tron.context._ids import set_trace_id

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
_PROPAGATED = frozenset(_PROPAGATOR.fields)


class OtelTracing:
    """A tracer provider of its own (not the global one), so several servers in one test process do not clash."""

    def __init__(self, service: str, endpoint: str, sample_ratio: float) -> None:
        # Roots reach the SDK only once sampled (see `start`); children follow their parent's flag.
        self._provider = TracerProvider(
            resource=Resource.create({"service.name": service}), sampler=ParentBased(ALWAYS_ON)
        )
        self._sample_ratio = sample_ratio
        self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        self._tracer = self._provider.get_tracer("lucid_tron.mesh")
        # method -> (span name, attributes): the same for every call of a method.
        self._prepared: dict[str, tuple[str, dict[str, str]]] = {}

    def start(self, context: grpc.aio.ServicerContext[Any, Any], method: str) -> _RpcSpan | None:
        carrier = {key: value for key, value in context.invocation_metadata() or () if key in _PROPAGATED}
        if not carrier and random.random() >= self._sample_ratio:
            return None
        prepared = self._prepared.get(method)
        if prepared is None:
            service, _, name = method.lstrip("/").partition("/")
            attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}
            prepared = self._prepared[method] = (f"{service}/{name}", attributes)
        span = self._tracer.start_span(
            prepared[0],
            context=_PROPAGATOR.extract(carrier) if carrier else None,
            kind=trace.SpanKind.SERVER,
            attributes=prepared[1],
            record_exception=False,
            set_status_on_exception=False,
        )
        if span.is_recording():
            set_trace_id(format(span.get_span_context().trace_id, "032x"))
        # Current for the behavior, so calls onwards carry this span (or its caller's decision not to sample).
        token = otel_context.attach(trace.set_span_in_context(span))
        return _RpcSpan(span, token)

    def inject(self, metadata: grpc.aio.Metadata) -> None:
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        for key, value in carrier.items():
            metadata[key] = value

    def shutdown(self) -> None:
        self._provider.shutdown()


class _RpcSpan:
    __slots__ = ("_span", "_token")

    def __init__(self, span: trace.Span, token: object) -> None:
        self._span = span
        self._token = token

    def end(self, code: grpc.StatusCode) -> None:
        span = self._span
        if span.is_recording():
            span.set_attribute("rpc.grpc.status_code", code.value[0])
            if code in _SERVER_ERRORS:
                span.set_status(trace.StatusCode.ERROR, code.name)
        span.end()
        otel_context.detach(self._token)  # type: ignore[arg-type]

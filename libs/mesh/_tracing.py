"""Tracing switch: OpenTelemetry over OTLP/gRPC when OTEL_EXPORTER_OTLP_ENDPOINT is set, nothing at all otherwise.

The SDK and the OTLP exporter weigh about 8 MB of resident memory and ~0.1 s of import on a Pi; a service without
a collector must not pay that, so they are imported only here, only when an endpoint is configured (see `_otel`).
With tracing off the runtime's wrapper tests one local for None per call and does nothing else.
"""

from __future__ import annotations

from typing import Any, Protocol

import grpc


class Span(Protocol):
    """One RPC's span, as the runtime's wrapper ends it."""

    def end(self, code: grpc.StatusCode) -> None: ...


class Spans(Protocol):
    """Where the runtime's wrapper gets a span per RPC (None: this RPC is not sampled), and outgoing propagation."""

    def start(self, context: grpc.aio.ServicerContext[Any, Any], method: str) -> Span | None: ...

    def inject(self, metadata: grpc.aio.Metadata) -> None: ...

    def shutdown(self) -> None: ...


# Set when a server in this process traces; outgoing calls then carry W3C traceparent.
_active: Spans | None = None


def start_tracing(service: str, endpoint: str | None, sample_ratio: float) -> Spans | None:
    """Start exporting spans for `service` to `endpoint`, or return None when there is no endpoint.

    `sample_ratio` of the RPCs without a sampled parent start a trace; a caller's sampling decision is followed.
    """
    global _active
    if endpoint is None:
        return None
    from lucid_tron.mesh._otel import OtelTracing

    _active = OtelTracing(service, endpoint, sample_ratio)
    return _active


def stop_tracing(tracing: Spans) -> None:
    """Export what is buffered and stop; blocking (it may wait on the collector), so run it in a thread."""
    global _active
    if _active is tracing:
        _active = None
    tracing.shutdown()


def inject_trace_context(metadata: grpc.aio.Metadata) -> None:
    """Add `traceparent` (and `tracestate`) for the current span to outgoing metadata; a no-op when tracing is off."""
    if _active is not None:
        _active.inject(metadata)

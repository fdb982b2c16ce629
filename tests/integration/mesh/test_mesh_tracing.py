"""With an OTLP endpoint, each RPC (not health, not reflection) becomes a span, and calls onwards carry traceparent.

The collector is a real OTLP/gRPC receiver on a loopback port, built from opentelemetry-proto's service stubs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

from integration.mesh.mesh_testkit import generic_service, unary_unary
from lucid_tron import errors
from lucid_tron.mesh import ServiceSettings, ServiceSpec, current_trace_id, open_channel, serving

TRACED = "test.mesh.Traced"
DOWNSTREAM = "test.mesh.TracedDownstream"
SAMPLED = "test.mesh.Sampled"
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_SPAN_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.spans: list[tuple[str, trace_pb2.Span]] = []  # (service.name, span)

    async def Export(  # noqa: N802 - the proto's name
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        for resource_spans in request.resource_spans:
            service = next(a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name")
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend((service, span) for span in scope_spans.spans)
        return trace_service_pb2.ExportTraceServiceResponse()


@dataclass
class Traced:
    collector: Collector
    downstream_traceparents: list[str | None] = field(default_factory=list)
    trace_ids_in_handler: list[str | None] = field(default_factory=list)


@pytest.fixture(scope="module")
async def traced() -> AsyncIterator[Traced]:
    """Run a traced service (and its downstream) through a few calls, stop it so spans are flushed, then test."""
    collector = Collector()
    receiver = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, receiver)
    endpoint = f"http://127.0.0.1:{receiver.add_insecure_port('127.0.0.1:0')}"
    await receiver.start()
    result = Traced(collector)

    async def record(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        result.downstream_traceparents.append(dict(context.invocation_metadata() or ()).get("traceparent"))  # type: ignore[arg-type]
        return b"down"

    async def not_found(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        raise errors.NotFound("invoice", "inv_1")

    async def bug(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        raise ZeroDivisionError

    async def work(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        return b"worked"

    downstream_spec = ServiceSpec(
        name="traced-downstream", services=[generic_service(DOWNSTREAM, {"Record": unary_unary(record)})]
    )
    async with (
        serving(downstream_spec, ServiceSettings(port=0, insecure_plaintext=True)) as downstream,
        open_channel(downstream.address) as onward,
    ):

        async def forward(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            result.trace_ids_in_handler.append(current_trace_id())
            return await onward.unary_unary(f"/{DOWNSTREAM}/Record")(request)

        spec = ServiceSpec(
            name="traced-service",
            services=[
                generic_service(
                    TRACED,
                    {"Forward": unary_unary(forward), "NotFound": unary_unary(not_found), "Bug": unary_unary(bug)},
                )
            ],
        )
        # Never starting a trace of its own: only calls whose caller sampled them are traced.
        rarely_spec = ServiceSpec(
            name="rarely-sampled", services=[generic_service(SAMPLED, {"Work": unary_unary(work)})]
        )
        async with (
            serving(spec, traced_settings(endpoint, sample_ratio=1.0)) as server,
            grpc.aio.insecure_channel(server.address) as channel,
            serving(rarely_spec, traced_settings(endpoint, sample_ratio=0.0)) as rarely,
            grpc.aio.insecure_channel(rarely.address) as rarely_channel,
        ):
            await channel.unary_unary(f"/{TRACED}/Forward")(b"", metadata=(("traceparent", TRACEPARENT),))
            for method in ("NotFound", "Bug"):
                with pytest.raises(grpc.aio.AioRpcError):
                    await channel.unary_unary(f"/{TRACED}/{method}")(b"")
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
            work = rarely_channel.unary_unary(f"/{SAMPLED}/Work")
            for _ in range(5):
                await work(b"")
            await work(b"", metadata=(("traceparent", TRACEPARENT),))
    await receiver.stop(None)
    yield result


def traced_settings(endpoint: str, *, sample_ratio: float) -> ServiceSettings:
    return ServiceSettings(port=0, insecure_plaintext=True, otel_endpoint=endpoint, otel_sample_ratio=sample_ratio)


def span_named(traced: Traced, name: str) -> trace_pb2.Span:
    [span] = [span for _, span in traced.collector.spans if span.name == name]
    return span


def attributes(span: trace_pb2.Span) -> dict[str, Any]:
    return {a.key: getattr(a.value, a.value.WhichOneof("value")) for a in span.attributes}


def test_each_rpc_becomes_a_server_span_with_rpc_attributes(traced: Traced) -> None:
    span = span_named(traced, f"{TRACED}/Forward")
    assert span.kind == trace_pb2.Span.SPAN_KIND_SERVER
    assert attributes(span) == {
        "rpc.system": "grpc",
        "rpc.service": TRACED,
        "rpc.method": "Forward",
        "rpc.grpc.status_code": 0,
    }


def test_spans_are_exported_under_the_service_name(traced: Traced) -> None:
    assert {service for service, _ in traced.collector.spans} == {"traced-service", "rarely-sampled"}


def test_with_a_sample_ratio_of_zero_only_calls_a_caller_sampled_are_traced(traced: Traced) -> None:
    spans = [span for service, span in traced.collector.spans if service == "rarely-sampled"]
    assert [(span.name, span.trace_id.hex()) for span in spans] == [(f"{SAMPLED}/Work", TRACE_ID)]


def test_an_incoming_traceparent_makes_the_span_its_child(traced: Traced) -> None:
    span = span_named(traced, f"{TRACED}/Forward")
    assert (span.trace_id.hex(), span.parent_span_id.hex()) == (TRACE_ID, PARENT_SPAN_ID)


def test_calls_onwards_carry_the_current_span_as_traceparent(traced: Traced) -> None:
    span = span_named(traced, f"{TRACED}/Forward")
    assert traced.downstream_traceparents == [f"00-{TRACE_ID}-{span.span_id.hex()}-01"]


def test_the_trace_id_is_available_to_log_lines_in_the_handler(traced: Traced) -> None:
    assert traced.trace_ids_in_handler == [TRACE_ID]


def test_a_domain_error_records_its_code_without_marking_the_span_failed(traced: Traced) -> None:
    span = span_named(traced, f"{TRACED}/NotFound")
    assert attributes(span)["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
    assert span.status.code == trace_pb2.Status.STATUS_CODE_UNSET


def test_an_unexpected_error_marks_the_span_failed(traced: Traced) -> None:
    span = span_named(traced, f"{TRACED}/Bug")
    assert attributes(span)["rpc.grpc.status_code"] == grpc.StatusCode.INTERNAL.value[0]
    assert span.status.code == trace_pb2.Status.STATUS_CODE_ERROR


def test_health_checks_make_no_spans(traced: Traced) -> None:
    assert not [span for _, span in traced.collector.spans if span.name.startswith("grpc.health")]
    assert len([service for service, _ in traced.collector.spans if service == "traced-service"]) == 3

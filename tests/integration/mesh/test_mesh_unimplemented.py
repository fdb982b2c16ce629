"""An RPC nobody has implemented yet answers UNIMPLEMENTED, naming the method, never INTERNAL or UNKNOWN.

A service registers its generated `XServicer` base (or a subclass implementing some RPCs) before later issues fill
it in; callers must be able to tell "not there yet" from "the server broke".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from integration.mesh.mesh_testkit import details_of, generic_service, rich_status, stream_unary, trailing
from lucid.tron.v1 import payment_gateway_pb2, payment_gateway_pb2_grpc
from lucid_tron.mesh import ERROR_DOMAIN, REQUEST_ID_HEADER, Registration, ServiceSettings, ServiceSpec, serving

GATEWAY = "lucid.tron.v1.PaymentGatewayService"
PARTIAL = "test.mesh.Partial"


class HalfDoneGateway(payment_gateway_pb2_grpc.PaymentGatewayServiceServicer):
    """Implements GetInvoice only; every other RPC is still the generated base's."""

    async def GetInvoice(  # noqa: N802 - the proto's name
        self, request: payment_gateway_pb2.GetInvoiceRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> payment_gateway_pb2.GetInvoiceResponse:
        return payment_gateway_pb2.GetInvoiceResponse()


async def sum_not_supported(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    async for _ in requests:
        raise NotImplementedError("summing is not supported yet")
    return b""


@pytest.fixture
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    spec = ServiceSpec(
        name="unimplemented-test",
        services=[
            Registration(
                payment_gateway_pb2_grpc.add_PaymentGatewayServiceServicer_to_server, HalfDoneGateway(), GATEWAY
            ),
            generic_service(PARTIAL, {"Sum": stream_unary(sum_not_supported)}),
        ],
    )
    async with (
        serving(spec, ServiceSettings(port=0, insecure_plaintext=True)) as server,
        grpc.aio.insecure_channel(server.address) as channel,
    ):
        yield channel


async def test_an_rpc_inherited_from_the_generated_base_is_unimplemented_naming_the_method(
    channel: grpc.aio.Channel,
) -> None:
    stub = payment_gateway_pb2_grpc.PaymentGatewayServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateInvoice(payment_gateway_pb2.CreateInvoiceRequest(), metadata=((REQUEST_ID_HEADER, "req-7"),))
    assert caught.value.code() is grpc.StatusCode.UNIMPLEMENTED
    assert caught.value.details() == f"/{GATEWAY}/CreateInvoice is not implemented"
    details = details_of(rich_status(caught.value))
    assert (details["ErrorInfo"].reason, details["ErrorInfo"].domain) == ("UNIMPLEMENTED", ERROR_DOMAIN)
    assert details["RequestInfo"].request_id == "req-7"
    assert trailing(caught.value, REQUEST_ID_HEADER) == "req-7"


async def test_a_server_streaming_rpc_inherited_from_the_generated_base_is_unimplemented(
    channel: grpc.aio.Channel,
) -> None:
    stub = payment_gateway_pb2_grpc.PaymentGatewayServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in stub.WatchInvoice(payment_gateway_pb2.WatchInvoiceRequest()):
            pass
    assert caught.value.code() is grpc.StatusCode.UNIMPLEMENTED
    assert caught.value.details() == f"/{GATEWAY}/WatchInvoice is not implemented"


async def test_the_rpcs_a_subclass_implements_are_served(channel: grpc.aio.Channel) -> None:
    stub = payment_gateway_pb2_grpc.PaymentGatewayServiceStub(channel)
    assert await stub.GetInvoice(payment_gateway_pb2.GetInvoiceRequest()) == payment_gateway_pb2.GetInvoiceResponse()


async def test_not_implemented_error_raised_by_a_servicer_is_unimplemented_not_internal(
    channel: grpc.aio.Channel,
) -> None:
    async def requests() -> AsyncIterator[bytes]:
        yield b"1"

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await channel.stream_unary(f"/{PARTIAL}/Sum")(requests())
    assert caught.value.code() is grpc.StatusCode.UNIMPLEMENTED
    assert caught.value.details() == f"/{PARTIAL}/Sum is not implemented"


async def test_the_process_keeps_serving_after_unimplemented_calls(channel: grpc.aio.Channel) -> None:
    stub = payment_gateway_pb2_grpc.PaymentGatewayServiceStub(channel)
    for _ in range(3):
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.CancelInvoice(payment_gateway_pb2.CancelInvoiceRequest())
    answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=GATEWAY))
    assert answer.status == health_pb2.HealthCheckResponse.SERVING

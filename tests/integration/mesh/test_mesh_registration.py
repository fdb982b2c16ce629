"""The runtime is put around each handler once, when it is registered, however it is registered.

Generated `add_XServicer_to_server` functions register each handler twice (by method name and in a generic
handler); hand-made services register generic handlers, which may answer a method with a new handler at any time.
A handler the runtime cannot run (a synchronous one: the mesh runs no thread pool) is refused as soon as it is seen.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from integration.mesh.mesh_testkit import identity
from lucid.tron.v1 import payment_gateway_pb2, payment_gateway_pb2_grpc
from lucid_tron.mesh import REQUEST_ID_HEADER, Registration, ServiceSettings, ServiceSpec, current_request_id, serving

GATEWAY = "lucid.tron.v1.PaymentGatewayService"
SWITCHING = "test.mesh.Switching"
REGISTERED = "test.mesh.RegisteredOnly"


class Gateway(payment_gateway_pb2_grpc.PaymentGatewayServiceServicer):
    async def GetInvoice(  # noqa: N802 - the proto's name
        self, request: payment_gateway_pb2.GetInvoiceRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> payment_gateway_pb2.GetInvoiceResponse:
        # Reading the request id makes the runtime echo it: the trailer shows how many wrappers ran.
        invoice = payment_gateway_pb2.Invoice(invoice_id=current_request_id())
        return payment_gateway_pb2.GetInvoiceResponse(invoice=invoice)


class Switching(grpc.GenericRpcHandler):
    """Answers its one method with a new handler after each call (as a generic handler may)."""

    def __init__(self) -> None:
        self.calls = 0

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        if handler_call_details.method != f"/{SWITCHING}/Which":
            return None
        self.calls += 1
        answer = f"handler {self.calls}".encode()

        async def which(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            return answer

        return grpc.unary_unary_rpc_method_handler(which, identity, identity)


@pytest.fixture
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    switching = Switching()

    def add_switching(_servicer: object, server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers((switching,))

    async def identify(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        return str(current_request_id()).encode()

    def add_registered_only(_servicer: object, server: grpc.aio.Server) -> None:
        handler = grpc.unary_unary_rpc_method_handler(identify, identity, identity)
        server.add_registered_method_handlers(REGISTERED, {"Identify": handler})

    spec = ServiceSpec(
        name="registration-test",
        services=[
            Registration(payment_gateway_pb2_grpc.add_PaymentGatewayServiceServicer_to_server, Gateway(), GATEWAY),
            Registration(add_switching, None, SWITCHING),
            Registration(add_registered_only, None, REGISTERED),
        ],
    )
    async with (
        serving(spec, ServiceSettings(port=0, insecure_plaintext=True)) as server,
        grpc.aio.insecure_channel(server.address) as opened,
    ):
        yield opened


async def test_a_generated_servicers_rpc_runs_in_the_runtime(channel: grpc.aio.Channel) -> None:
    call = payment_gateway_pb2_grpc.PaymentGatewayServiceStub(channel).GetInvoice(
        payment_gateway_pb2.GetInvoiceRequest(), metadata=((REQUEST_ID_HEADER, "req-once"),)
    )
    await call
    trailing = await call.trailing_metadata()
    assert [value for key, value in trailing or () if key == REQUEST_ID_HEADER] == ["req-once"]


async def test_a_service_registered_only_by_method_name_runs_in_the_runtime(channel: grpc.aio.Channel) -> None:
    call = channel.unary_unary(f"/{REGISTERED}/Identify")(b"", metadata=((REQUEST_ID_HEADER, "req-registered"),))
    assert await call == b"req-registered"
    trailing = await call.trailing_metadata()
    assert [value for key, value in trailing or () if key == REQUEST_ID_HEADER] == ["req-registered"]


async def test_a_generic_handler_that_changes_its_handler_is_followed(channel: grpc.aio.Channel) -> None:
    which = channel.unary_unary(f"/{SWITCHING}/Which")
    assert [await which(b""), await which(b"")] == [b"handler 1", b"handler 2"]


async def test_a_synchronous_rpc_of_a_servicer_is_refused_when_it_is_registered() -> None:
    class Blocking(payment_gateway_pb2_grpc.PaymentGatewayServiceServicer):
        def GetInvoice(self, request: Any, context: Any) -> Any:  # noqa: N802 - the proto's name
            return payment_gateway_pb2.GetInvoiceResponse()

    add = payment_gateway_pb2_grpc.add_PaymentGatewayServiceServicer_to_server
    spec = ServiceSpec(name="sync-test", services=[Registration(add, Blocking(), GATEWAY)])
    with pytest.raises(TypeError, match="must be `async def`"):
        async with serving(spec, ServiceSettings(port=0, insecure_plaintext=True)):
            pass

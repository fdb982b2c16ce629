"""Request bytes that are not a valid message are the caller's bad input: INVALID_ARGUMENT naming `request`.

grpc would otherwise answer UNKNOWN with the parser's own error text before any handler runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from google.rpc import error_details_pb2

from integration.mesh.mesh_testkit import rich_status
from lucid.tron.v1 import payment_gateway_pb2_grpc, wallet_pb2, wallet_pb2_grpc
from lucid_tron.mesh import MeshServer, Registration, ServiceSettings, ServiceSpec, serving

CORRUPT = b"\xff\xff\xff\xff"


class Wallets(wallet_pb2_grpc.WalletServiceServicer):
    async def GetWallet(self, request: wallet_pb2.GetWalletRequest, context: grpc.aio.ServicerContext) -> wallet_pb2.GetWalletResponse:
        return wallet_pb2.GetWalletResponse(wallet=wallet_pb2.Wallet(wallet_id=request.wallet_id))


@pytest.fixture
async def server() -> AsyncIterator[MeshServer]:
    spec = ServiceSpec(
        name="corrupt-request-test",
        services=[
            Registration(wallet_pb2_grpc.add_WalletServiceServicer_to_server, Wallets(), "lucid.tron.v1.WalletService"),
            Registration(
                payment_gateway_pb2_grpc.add_PaymentGatewayServiceServicer_to_server,
                payment_gateway_pb2_grpc.PaymentGatewayServiceServicer(),
                "lucid.tron.v1.PaymentGatewayService",
            ),
        ],
    )
    async with serving(spec, ServiceSettings(port=0, insecure_plaintext=True)) as running:
        yield running


async def call_raw(address: str, method: str, payload: bytes, streaming: bool = False) -> grpc.aio.AioRpcError:
    async with grpc.aio.insecure_channel(address) as channel:
        if streaming:
            call = channel.unary_stream(method)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                async for _ in call(payload):
                    pass
        else:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await channel.unary_unary(method)(payload)
    return caught.value


async def test_corrupt_bytes_to_a_unary_rpc_are_invalid_argument_naming_the_request(server: MeshServer) -> None:
    error = await call_raw(server.address, "/lucid.tron.v1.WalletService/GetWallet", CORRUPT)

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    bad_request = error_details_pb2.BadRequest()
    assert any(detail.Unpack(bad_request) for detail in rich_status(error).details)
    assert [violation.field for violation in bad_request.field_violations] == ["request"]


async def test_corrupt_bytes_to_a_server_streaming_rpc_are_invalid_argument(server: MeshServer) -> None:
    error = await call_raw(server.address, "/lucid.tron.v1.PaymentGatewayService/WatchInvoice", CORRUPT, streaming=True)
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_a_valid_request_still_reaches_the_servicer_parsed(server: MeshServer) -> None:
    async with grpc.aio.insecure_channel(server.address) as channel:
        answer = await wallet_pb2_grpc.WalletServiceStub(channel).GetWallet(wallet_pb2.GetWalletRequest(wallet_id="w-1"))
    assert answer.wallet.wallet_id == "w-1"

"""Two hops over real sockets: a test client calls a mesh service (the caller), which calls a peer through its typed
client; the peer is a plain grpc.aio WalletService whose answer each test picks through the wallet_id it asks for.

The peer is deliberately not a mesh service: a peer's status may come from any gRPC server (or from grpc itself),
and the caller must make sense of it either way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from integration.mesh.mesh_testkit import generic_service, unary_unary
from lucid.tron.v1 import wallet_pb2, wallet_pb2_grpc
from lucid_tron.context import REQUEST_ID_HEADER
from lucid_tron.mesh import ERROR_DOMAIN, ServiceSettings, ServiceSpec, serving
from lucid_tron.peers import WalletService

CALLER = "test.peers.Caller"
#: Asking the peer for this wallet makes it answer only after the caller gave up.
HANGS = "hangs"


def failure(code: grpc.StatusCode, message: str, *details: Message) -> status_pb2.Status:
    """The google.rpc.Status a peer fails with: `code`, `message` and `details` packed."""
    packed = []
    for detail in details:
        any_detail = any_pb2.Any()
        any_detail.Pack(detail)
        packed.append(any_detail)
    return status_pb2.Status(code=code.value[0], message=message, details=packed)


def reason(value: str) -> error_details_pb2.ErrorInfo:
    return error_details_pb2.ErrorInfo(reason=value, domain=ERROR_DOMAIN)


def retry_in(seconds: int) -> error_details_pb2.RetryInfo:
    return error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=seconds))


@dataclass
class Peer:
    """The peer's answers by wallet_id (a google.rpc.Status to fail with), and what it saw of each call."""

    failures: dict[str, status_pb2.Status] = field(default_factory=dict)
    time_remaining: list[float | None] = field(default_factory=list)
    request_ids: list[str | None] = field(default_factory=list)


class _Wallets(wallet_pb2_grpc.WalletServiceServicer):
    def __init__(self, peer: Peer) -> None:
        self._peer = peer

    async def GetWallet(  # noqa: N802 - the proto's name
        self, request: wallet_pb2.GetWalletRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> wallet_pb2.GetWalletResponse:
        self._peer.time_remaining.append(context.time_remaining())
        metadata = dict(context.invocation_metadata() or ())
        self._peer.request_ids.append(metadata.get(REQUEST_ID_HEADER))  # type: ignore[arg-type]
        if request.wallet_id == HANGS:
            await asyncio.sleep(3600)
        failure = self._peer.failures.get(request.wallet_id)
        if failure is not None:
            await context.abort_with_status(rpc_status.to_status(failure))
        return wallet_pb2.GetWalletResponse(wallet=wallet_pb2.Wallet(wallet_id=request.wallet_id, address_count=1))


@asynccontextmanager
async def peer_server(peer: Peer) -> AsyncIterator[str]:
    """The peer listening on a free loopback port; yields its address."""
    server = grpc.aio.server()
    wallet_pb2_grpc.add_WalletServiceServicer_to_server(_Wallets(peer), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(0)


CallerBehavior = Callable[[WalletService, bytes], Awaitable[bytes]]


async def get_wallet(wallet: WalletService, request: bytes) -> bytes:
    """The caller's RPC: GetWallet at the peer for the wallet_id it was sent, the peer's answer as it is."""
    response = await wallet.rpc.GetWallet(wallet_pb2.GetWalletRequest(wallet_id=request.decode()))
    return response.SerializeToString()


@asynccontextmanager
async def caller_of(
    wallet_address: str, behavior: CallerBehavior = get_wallet, **client_options: Any
) -> AsyncIterator[Callable[..., Awaitable[bytes]]]:
    """A mesh service whose one RPC runs `behavior` with a WalletService client of `wallet_address`; yields a
    function that calls that RPC as an outside client does (`await call(b"wallet-id", timeout=...)`)."""
    wallet = WalletService(wallet_address, **client_options)

    async def forward(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        return await behavior(wallet, request)

    spec = ServiceSpec(
        name="caller", services=[generic_service(CALLER, {"Call": unary_unary(forward)})], on_stop=[wallet.close]
    )
    async with (
        serving(spec, ServiceSettings(port=0, insecure_plaintext=True)) as caller,
        grpc.aio.insecure_channel(caller.address) as channel,
    ):
        yield channel.unary_unary(f"/{CALLER}/Call")

"""A typed peer client's call carries the caller's deadline and request id, falls back to its default timeout
without a caller, and raises the caller's own errors (lucid_tron.errors), for streamed answers too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_status import rpc_status

from integration.peers.peer_kit import Peer, caller_of, failure, peer_server, reason
from lucid.tron.v1 import payment_gateway_pb2, payment_gateway_pb2_grpc, wallet_pb2
from lucid_tron import errors
from lucid_tron.context import REQUEST_ID_HEADER
from lucid_tron.peers import PaymentGatewayService, WalletService


@pytest.fixture
async def peer() -> AsyncIterator[tuple[Peer, str]]:
    seen = Peer(failures={"gone": failure(grpc.StatusCode.NOT_FOUND, "wallet 'gone' not found", reason("GONE"))})
    async with peer_server(seen) as address:
        yield seen, address


async def test_the_callers_deadline_reaches_the_peer(peer: tuple[Peer, str]) -> None:
    seen, address = peer
    async with caller_of(address) as call:
        await call(b"w1", timeout=2.0)
    remaining = seen.time_remaining[-1]
    assert remaining is not None and 1.5 < remaining < 2.0


async def test_outside_any_rpc_the_call_gets_the_clients_default(peer: tuple[Peer, str]) -> None:
    seen, address = peer
    async with WalletService(address, default_timeout_s=5.0) as wallet:
        await wallet.rpc.GetWallet(wallet_pb2.GetWalletRequest(wallet_id="w1"))
    remaining = seen.time_remaining[-1]
    # grpc's own view of a deadline can be ~10 ms generous.
    assert remaining is not None and 4.5 < remaining < 5.1


async def test_inside_an_rpc_without_a_callers_deadline_the_call_gets_the_services_call_timeout(
    peer: tuple[Peer, str],
) -> None:
    seen, address = peer
    async with caller_of(address, default_timeout_s=5.0) as call:
        await call(b"w1")
    remaining = seen.time_remaining[-1]
    # The caller's RPC runs under CALL_TIMEOUT_S (30 s by default), which the peer call inherits, margin taken.
    assert remaining is not None and 29.0 < remaining < 30.0


async def test_an_explicit_timeout_shorter_than_the_deadline_is_kept(peer: tuple[Peer, str]) -> None:
    seen, address = peer

    async def quick(wallet: WalletService, request: bytes) -> bytes:
        await wallet.rpc.GetWallet(wallet_pb2.GetWalletRequest(wallet_id="w1"), timeout=0.5)
        return b""

    async with caller_of(address, quick) as call:
        await call(b"", timeout=5.0)
    remaining = seen.time_remaining[-1]
    assert remaining is not None and remaining < 0.52


async def test_the_request_id_reaches_the_peer(peer: tuple[Peer, str]) -> None:
    seen, address = peer
    async with caller_of(address) as call:
        await call(b"w1", metadata=((REQUEST_ID_HEADER, "req-to-the-peer"),))
    assert seen.request_ids[-1] == "req-to-the-peer"


async def test_outside_any_rpc_a_failed_call_raises_the_domain_error(peer: tuple[Peer, str]) -> None:
    _, address = peer
    async with WalletService(address) as wallet:
        with pytest.raises(errors.NotFound) as caught:
            await wallet.rpc.GetWallet(wallet_pb2.GetWalletRequest(wallet_id="gone"))
    assert caught.value.reason == "GONE"


class _Invoices(payment_gateway_pb2_grpc.PaymentGatewayServiceServicer):
    """Streams one state of the invoice, then fails as a peer whose database went away."""

    async def WatchInvoice(  # noqa: N802 - the proto's name
        self, request: payment_gateway_pb2.WatchInvoiceRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[payment_gateway_pb2.WatchInvoiceResponse]:
        invoice = payment_gateway_pb2.Invoice(invoice_id=request.invoice_id)
        yield payment_gateway_pb2.WatchInvoiceResponse(invoice=invoice)
        down = failure(grpc.StatusCode.UNAVAILABLE, "MongoDB is unavailable", reason("MONGO_UNAVAILABLE"))
        await context.abort_with_status(rpc_status.to_status(down))


async def test_a_streamed_answer_that_fails_midway_raises_the_domain_error_after_what_was_sent() -> None:
    server = grpc.aio.server()
    payment_gateway_pb2_grpc.add_PaymentGatewayServiceServicer_to_server(_Invoices(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    received = []
    try:
        async with PaymentGatewayService(f"127.0.0.1:{port}") as gateway:
            with pytest.raises(errors.Unavailable) as caught:
                async for update in gateway.rpc.WatchInvoice(payment_gateway_pb2.WatchInvoiceRequest(invoice_id="i1")):
                    received.append(update.invoice.invoice_id)
    finally:
        await server.stop(0)
    assert received == ["i1"]
    assert "payment-gateway" in caught.value.message


async def test_a_client_built_where_no_event_loop_runs_calls_its_peer_from_the_loop_that_serves(
    peer: tuple[Peer, str],
) -> None:
    # Services build their clients before `asyncio.run` starts the loop they serve in (lucid_tron.mesh.run); a
    # thread without a loop stands in for that moment.
    seen, address = peer
    wallet = await asyncio.to_thread(WalletService, address, default_timeout_s=5.0)
    async with wallet:
        await wallet.rpc.GetWallet(wallet_pb2.GetWalletRequest(wallet_id="w1"))
    assert seen.time_remaining

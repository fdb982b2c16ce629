"""One typed client per service of the mesh: the generated async stub of its proto service, behind `rpc`.

Nothing is written per RPC: the generated stub has them all, typed by its `.pyi` (request message in, response
message out), and `PeerClient` puts the mesh's channel under it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lucid.tron.v1 import (
    payment_gateway_pb2_grpc,
    payout_router_pb2_grpc,
    relay_pb2_grpc,
    staking_pb2_grpc,
    tron_client_pb2_grpc,
    usdt_pb2_grpc,
    wallet_pb2_grpc,
    webhooks_pb2_grpc,
)

from ._client import PeerClient

if TYPE_CHECKING:  # the async stubs exist only in the .pyi files (the runtime class serves both flavours)
    from lucid.tron.v1.payment_gateway_pb2_grpc import PaymentGatewayServiceAsyncStub
    from lucid.tron.v1.payout_router_pb2_grpc import PayoutRouterServiceAsyncStub
    from lucid.tron.v1.relay_pb2_grpc import RelayServiceAsyncStub
    from lucid.tron.v1.staking_pb2_grpc import StakingServiceAsyncStub
    from lucid.tron.v1.tron_client_pb2_grpc import TronClientServiceAsyncStub
    from lucid.tron.v1.usdt_pb2_grpc import UsdtServiceAsyncStub
    from lucid.tron.v1.wallet_pb2_grpc import WalletServiceAsyncStub
    from lucid.tron.v1.webhooks_pb2_grpc import WebhookServiceAsyncStub


class TronClientService(PeerClient["TronClientServiceAsyncStub"]):
    """tron-client: blocks, accounts, transactions, broadcast of signed transactions, chain parameters, energy."""

    peer = "tron-client"
    stub = tron_client_pb2_grpc.TronClientServiceStub


class RelayService(PeerClient["RelayServiceAsyncStub"]):
    """tron-relay: cached chain reads and TRC20 transfer verification."""

    peer = "tron-relay"
    stub = relay_pb2_grpc.RelayServiceStub


class WalletService(PeerClient["WalletServiceAsyncStub"]):
    """wallet-manager: wallets, derived addresses, signing after checking intent."""

    peer = "wallet-manager"
    stub = wallet_pb2_grpc.WalletServiceStub


class UsdtService(PeerClient["UsdtServiceAsyncStub"]):
    """usdt-manager: USDT-TRC20 balances, transfers, approvals, history, energy estimates."""

    peer = "usdt-manager"
    stub = usdt_pb2_grpc.UsdtServiceStub


class StakingService(PeerClient["StakingServiceAsyncStub"]):
    """staking: Stake 2.0 freezing, delegation and resource forecasts."""

    peer = "staking"
    stub = staking_pb2_grpc.StakingServiceStub


class PaymentGatewayService(PeerClient["PaymentGatewayServiceAsyncStub"]):
    """payment-gateway: invoices and the payments that settle them."""

    peer = "payment-gateway"
    stub = payment_gateway_pb2_grpc.PaymentGatewayServiceStub


class PayoutRouterService(PeerClient["PayoutRouterServiceAsyncStub"]):
    """payout-router: payouts, approvals, limits and batches."""

    peer = "payout-router"
    stub = payout_router_pb2_grpc.PayoutRouterServiceStub


class WebhookService(PeerClient["WebhookServiceAsyncStub"]):
    """The webhook endpoints and deliveries of payment-gateway (which serves WebhookService beside its own API;
    payout-router will too: point the client at the service whose events are meant)."""

    peer = "payment-gateway"
    stub = webhooks_pb2_grpc.WebhookServiceStub

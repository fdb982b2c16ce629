"""Invoices: per-invoice addresses and the payments that settle them.

Plain async Python, no grpc: the servicer adapts it to lucid.tron.v1.PaymentGatewayService, and it raises
`lucid_tron.errors` for the mesh to map. Its RPCs are not implemented yet; the issue that builds invoices and the chain
watcher writes them here, on these dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .store import PaymentGatewayStore

if TYPE_CHECKING:
    from lucid_tron.peers import RelayService, TronClientService, WalletService
    from redis.asyncio import Redis


class Invoices:
    """payment-gateway's domain, on its MongoDB store, tron-client, tron-relay, wallet-manager, Redis (caches and locks,
    never the only copy of money state) and the USDT contract."""

    def __init__(
        self,
        store: PaymentGatewayStore,
        *,
        tron_client: TronClientService,
        tron_relay: RelayService,
        wallet_manager: WalletService,
        redis: Redis,
        usdt_contract: str,
    ) -> None:
        self.store = store
        self.tron_client = tron_client
        self.tron_relay = tron_relay
        self.wallet_manager = wallet_manager
        self.redis = redis
        self.usdt_contract = usdt_contract

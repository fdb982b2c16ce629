"""Payouts: idempotent requests, approval, limits, exactly-once broadcast and batches.

Plain async Python, no grpc: the servicer adapts it to lucid.tron.v1.PayoutRouterService, and it raises
`lucid_tron.errors` for the mesh to map. Its RPCs are not implemented yet; the issue that builds payouts, limits and
exactly-once broadcast writes them here, on these dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .store import PayoutRouterStore

if TYPE_CHECKING:
    from lucid_tron.peers import TronClientService, WalletService
    from redis.asyncio import Redis


class Payouts:
    """payout-router's domain, on its MongoDB store, tron-client, wallet-manager, Redis (caches and locks, never the
    only copy of money state) and the USDT contract."""

    def __init__(
        self,
        store: PayoutRouterStore,
        *,
        tron_client: TronClientService,
        wallet_manager: WalletService,
        redis: Redis,
        usdt_contract: str,
    ) -> None:
        self.store = store
        self.tron_client = tron_client
        self.wallet_manager = wallet_manager
        self.redis = redis
        self.usdt_contract = usdt_contract

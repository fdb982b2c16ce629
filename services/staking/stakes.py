"""Stakes: Stake 2.0 freezing, unfreezing, delegating and withdrawing TRX for energy and bandwidth, and forecasts.

Plain async Python, no grpc: the servicer adapts it to lucid.tron.v1.StakingService, and it raises `lucid_tron.errors`
for the mesh to map. Its RPCs are not implemented yet; the issue that builds Stake 2.0 writes them here, on these
dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .store import StakingStore

if TYPE_CHECKING:
    from lucid_tron.peers import TronClientService, WalletService


class Stakes:
    """staking's domain, on its MongoDB store, tron-client and wallet-manager."""

    def __init__(self, store: StakingStore, *, tron_client: TronClientService, wallet_manager: WalletService) -> None:
        self.store = store
        self.tron_client = tron_client
        self.wallet_manager = wallet_manager

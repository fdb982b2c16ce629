"""UsdtTransfers: USDT-TRC20 balances, transfers, approvals, allowances, history and energy estimates.

Plain async Python, no grpc: the servicer adapts it to lucid.tron.v1.UsdtService, and it raises `lucid_tron.errors` for
the mesh to map. Its RPCs are not implemented yet; the issue that builds USDT balances, transfers, approvals and history
writes them here, on these dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .store import UsdtManagerStore

if TYPE_CHECKING:
    from lucid_tron.peers import TronClientService, WalletService


class UsdtTransfers:
    """usdt-manager's domain, on its MongoDB store, tron-client, wallet-manager and the USDT contract."""

    def __init__(
        self,
        store: UsdtManagerStore,
        *,
        tron_client: TronClientService,
        wallet_manager: WalletService,
        usdt_contract: str,
    ) -> None:
        self.store = store
        self.tron_client = tron_client
        self.wallet_manager = wallet_manager
        self.usdt_contract = usdt_contract

"""Wallets: HD seeds encrypted at rest, derived addresses, and signing after checking the caller's intent.

Plain async Python, no grpc: the servicer adapts it to lucid.tron.v1.WalletService, and it raises `lucid_tron.errors`
for the mesh to map. Its RPCs are not implemented yet; the issue that builds HD wallets, derivation and intent-checked
signing writes them here, on these dependencies.
"""

from __future__ import annotations

from .store import WalletManagerStore


class Wallets:
    """wallet-manager's domain, on its MongoDB store and the USDT contract."""

    def __init__(self, store: WalletManagerStore, *, usdt_contract: str) -> None:
        self.store = store
        self.usdt_contract = usdt_contract

"""wallet-manager's MongoDB: idempotency keys of CreateWallet and SignTransaction, and the audit log of
every wallet created and every transaction signed."""

from __future__ import annotations

from lucid_tron.storage import MoneyStore


class WalletManagerStore(MoneyStore):
    """Idempotency keys and audit log; the wallet records come with the issue that builds the service."""

    service = "wallet-manager"

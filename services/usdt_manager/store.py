"""usdt-manager's MongoDB: idempotency keys of Transfer and Approve, and the audit log of every USDT
movement it signs and broadcasts."""

from __future__ import annotations

from lucid_tron.storage import MoneyStore


class UsdtManagerStore(MoneyStore):
    """Idempotency keys and audit log; the transfer records come with the issue that builds the service."""

    service = "usdt-manager"

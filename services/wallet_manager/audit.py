"""wallet-manager's audit trail: every create, derive, sign, refusal and policy change, hash-chained
(lucid_tron.storage.AuditLog) with the principal that asked for it.

The principal is the caller's authenticated identity (its mTLS certificate's SPIFFE id, from the mesh's request
scope: lucid_tron.context.principal()); host commands record HOST_PRINCIPAL. Details hold ids, addresses, amounts and reasons: never key
material.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from lucid_tron.context import principal
from lucid_tron.storage import AuditEntry, MoneyStore

HOST_PRINCIPAL = "host"


def caller_principal() -> str:
    """The verified principal of the current call (its certificate's SPIFFE id), or "" without one (plaintext)."""
    return principal() or ""


class WalletAudit:
    """Appends to the audit log. Appends from this process go one at a time: the chain admits one successor per
    entry, so concurrent appends would only retry against each other."""

    def __init__(self, store: MoneyStore) -> None:
        self._store = store
        self._appending = asyncio.Lock()

    async def record(self, action: str, details: Mapping[str, Any], *, principal: str | None = None) -> AuditEntry:
        async with self._appending:
            principal = caller_principal() if principal is None else principal
            return await self._store.audit_log.append(principal, action, details)

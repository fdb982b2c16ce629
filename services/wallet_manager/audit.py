"""wallet-manager's audit trail: every create, derive, sign, refusal and policy change, hash-chained
(lucid_tron.storage.AuditLog) with the principal that asked for it.

The principal is the caller's authenticated identity (its mTLS certificate's SPIFFE id), which the mesh keeps in the
request scope; host commands record HOST_PRINCIPAL. Details hold ids, addresses, amounts and reasons: never key
material.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import lucid_tron.context
from lucid_tron.storage import AuditEntry, MoneyStore

HOST_PRINCIPAL = "host"


def caller_principal() -> str:
    """The authenticated principal of the current call, or "" while the mesh does not provide one.

    The one place to read it: `lucid_tron.context.principal()` once the mesh's mTLS puts the verified certificate's
    identity in the request scope."""
    principal = getattr(lucid_tron.context, "principal", None)
    return principal() if callable(principal) else ""


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

"""The stores of the money services: `MongoStore` with the primitives money state needs, wired once.

    class WalletManagerStore(MoneyStore):
        service = "wallet-manager"          # database lucid_wallet_manager unless MONGO_DATABASE says otherwise

    class PayoutRouterStore(MoneyJobStore):
        service = "payout-router"
"""

from __future__ import annotations

from functools import cached_property
from typing import ClassVar

from ._audit import AuditLog
from ._idempotency import IdempotencyKeys
from ._leases import Leases
from ._outbox import Outbox
from ._settings import MongoSettings
from ._store import MongoStore

__all__ = ["MoneyJobStore", "MoneyStore"]


class MoneyStore(MongoStore):
    """A service whose RPCs move money: AIP-155 idempotency keys (scoped to `service`) and an audit log, both
    written with DURABLE_WRITES. App name `service`, default database `lucid_<service with underscores>`."""

    service: ClassVar[str]
    indexes = {**IdempotencyKeys.INDEXES, **AuditLog.INDEXES}

    def __init__(self, settings: MongoSettings) -> None:
        super().__init__(
            settings, app_name=self.service, default_database="lucid_" + self.service.replace("-", "_")
        )

    @cached_property
    def idempotency_keys(self) -> IdempotencyKeys:
        return IdempotencyKeys.in_database(self.db, service=self.service)

    @cached_property
    def audit_log(self) -> AuditLog:
        return AuditLog.in_database(self.db)


class MoneyJobStore(MoneyStore):
    """A money service that also runs a single-worker job (a chain watcher, a payout executor) and announces its
    state changes: adds the transactional outbox and leases with fencing tokens."""

    indexes = {**MoneyStore.indexes, **Outbox.INDEXES, **Leases.INDEXES}

    @cached_property
    def outbox(self) -> Outbox:
        return Outbox.in_database(self.db)

    def leases(self, *, owner: str, ttl_s: float) -> Leases:
        """The leases of this service's jobs, held as `owner` (this worker) for `ttl_s` seconds at a time."""
        return Leases.in_database(self.db, owner=owner, ttl_s=ttl_s)

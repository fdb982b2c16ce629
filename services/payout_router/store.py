"""payout-router's MongoDB: idempotency keys of CreatePayout and CreatePayoutBatch, the outbox of payout events
committed with the payout's change, the payout executor's lease, and the audit log of every approval, rejection
and payment."""

from __future__ import annotations

from lucid_tron.storage import MoneyJobStore


class PayoutRouterStore(MoneyJobStore):
    """Idempotency keys, outbox, leases and audit log; the payouts come with the issue that builds the service."""

    service = "payout-router"

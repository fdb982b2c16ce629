"""staking's MongoDB: idempotency keys of the freeze, unfreeze, delegate, undelegate and withdraw requests,
and the audit log of every stake change."""

from __future__ import annotations

from lucid_tron.storage import MoneyStore


class StakingStore(MoneyStore):
    """Idempotency keys and audit log; the stake records come with the issue that builds the service."""

    service = "staking"

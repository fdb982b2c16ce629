"""staking's MongoDB: every stake change it signed (stored before it is broadcast: the history of the stake changes
made through it), idempotency keys of the writes, and the audit log of every stake change.

Collections (all written with DURABLE_WRITES):
    transactions    one per signed transaction (lucid_tron.sending.SentTransactions): _id the txid, the request,
                    the exact raw_data and signature, owner, receiver, resource, amount, lock, state, created_at
"""

from __future__ import annotations

from lucid_tron.sending import SentTransactions
from lucid_tron.storage import MoneyStore


class StakingStore(MoneyStore):
    """Signed stake changes; plus MoneyStore's idempotency keys and audit log."""

    service = "staking"
    indexes = {**MoneyStore.indexes, **SentTransactions.INDEXES}

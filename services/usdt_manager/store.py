"""usdt-manager's MongoDB: every transaction it signed (stored before it is broadcast), idempotency keys of Transfer
and Approve, and the audit log.

Collections (all written with DURABLE_WRITES):
    transactions    one per signed transaction (lucid_tron.sending.SentTransactions, which writes them): _id the
                    txid; the exact raw_data and signature, so a retry broadcasts the same bytes; `request`
                    {method, request_id} unique, so one request_id never signs twice, even after its idempotency
                    key is forgotten (24 h); the transfer's state once final
"""

from __future__ import annotations

from typing import Any

from lucid_tron.sending import SentTransactions
from lucid_tron.storage import MoneyStore

Document = dict[str, Any]


class UsdtManagerStore(MoneyStore):
    """Signed transactions; plus MoneyStore's idempotency keys and audit log."""

    service = "usdt-manager"
    indexes = {**MoneyStore.indexes, **SentTransactions.INDEXES}

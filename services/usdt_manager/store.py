"""usdt-manager's MongoDB: every transaction it signed (stored before it is broadcast), idempotency keys of Transfer
and Approve, and the audit log.

Collections (all written with DURABLE_WRITES):
    transactions    one per signed transaction (lucid_tron.sending.SentTransactions, which writes them): _id the
                    txid; the exact raw_data and signature, so a retry broadcasts the same bytes; `request`
                    {method, request_id} unique, so one request_id never signs twice, even after its idempotency
                    key is forgotten (24 h); the transfer's state once final; `energy_plan` {plan_id, source,
                    state, ...}: its StakingService energy plan, until COMPLETED
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel

from lucid_tron.sending import SentTransactions
from lucid_tron.storage import MoneyStore

Document = dict[str, Any]

TRANSACTIONS = SentTransactions.COLLECTION


class UsdtManagerStore(MoneyStore):
    """Signed transactions and their energy plans; plus MoneyStore's idempotency keys and audit log."""

    service = "usdt-manager"
    indexes = {
        **MoneyStore.indexes,
        TRANSACTIONS: [
            *SentTransactions.INDEXES[TRANSACTIONS],
            IndexModel("energy_plan.state", sparse=True, name="energy_plan_state"),
        ],
    }

    async def record_energy_plan(self, txid: str, plan: Document) -> None:
        """Keep where the transfer's energy plan stands (and what it cost)."""
        with self.bounded():
            await self.collection(TRANSACTIONS, durable=True).update_one({"_id": txid}, {"$set": {"energy_plan": plan}})

    async def transfers_with_open_plans(self, limit: int) -> list[Document]:
        """Transfers whose energy plan is not COMPLETED yet, oldest first."""
        with self.bounded():
            cursor = self.collection(TRANSACTIONS).find(
                {"energy_plan.state": {"$in": ["DELEGATING", "READY", "RELEASING"]}}
            ).sort("created_at", ASCENDING).limit(limit)
            return await cursor.to_list()

    async def transactions(self, txids: list[str]) -> dict[str, Document]:
        """The transactions among `txids` this service signed, by txid."""
        with self.bounded():
            found = await self.collection(TRANSACTIONS).find({"_id": {"$in": txids}}).to_list()
        return {document["_id"]: document for document in found}

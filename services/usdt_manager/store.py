"""usdt-manager's MongoDB: every transaction it signed (stored before it is broadcast), idempotency keys of Transfer
and Approve, and the audit log.

Collections (all written with DURABLE_WRITES):
    transactions    one per signed transaction: _id the txid; the exact raw_data and signature, so a retry
                    broadcasts the same bytes; `request` {method, request_id} unique, so one request_id never signs
                    twice, even after its idempotency key is forgotten (24 h); the transfer's state once final;
                    `energy_plan` {plan_id, source, state, ...}: its StakingService energy plan, until COMPLETED
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from lucid_tron.storage import MoneyStore

Document = dict[str, Any]

TRANSACTIONS = "transactions"


class UsdtManagerStore(MoneyStore):
    """Signed transactions; plus MoneyStore's idempotency keys and audit log."""

    service = "usdt-manager"
    indexes = {
        **MoneyStore.indexes,
        TRANSACTIONS: [
            IndexModel([("request.method", ASCENDING), ("request.request_id", ASCENDING)], unique=True, name="request"),
            IndexModel("energy_plan.state", sparse=True, name="energy_plan_state"),
        ],
    }

    async def insert_transaction(self, document: Document) -> Document | None:
        """Store a signed transaction before it is broadcast. When its request already has one (a concurrent retry
        won the race), that one is returned instead and this one is dropped unsent; None when another request
        already stored this very transaction (same txid): build it anew."""
        with self.bounded():
            try:
                await self.collection(TRANSACTIONS, durable=True).insert_one(document)
            except DuplicateKeyError:
                return await self.transaction_for(document["request"]["method"], document["request"]["request_id"])
        return document

    async def transaction_for(self, method: str, request_id: str) -> Document | None:
        """The transaction signed for this request, if any."""
        with self.bounded():
            return await self.collection(TRANSACTIONS).find_one(
                {"request.method": method, "request.request_id": request_id}
            )

    async def transaction(self, txid: str) -> Document | None:
        with self.bounded():
            return await self.collection(TRANSACTIONS).find_one({"_id": txid})

    async def set_state(self, txid: str, state: str, **fields: Any) -> None:
        """Record where the transaction stands (and what the receipt said, once there is one)."""
        with self.bounded():
            await self.collection(TRANSACTIONS, durable=True).update_one(
                {"_id": txid}, {"$set": {"state": state, **fields}}
            )

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

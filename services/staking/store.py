"""staking's MongoDB: every stake change it signed (stored before it is broadcast: the history of the stake changes
made through it), idempotency keys of the writes, the audit log of every stake change, leases of its background jobs,
and the energy plans and keeper delegations.

Collections (money state written with DURABLE_WRITES):
    transactions        one per signed transaction (lucid_tron.sending.SentTransactions): _id the txid, the request,
                        the exact raw_data and signature, owner, receiver, resource, amount, lock, state, created_at
    energy_plans        one per CreateEnergyPlan request: the plan, and the signed delegate and undelegate
                        transactions it owns, stored before they are broadcast; `request_key` (unique) is the
                        request_id while the plan holds it, suffixed once the plan frees it
    keeper_delegations  one per delegation the keeper made: _id the txid, the signed bytes stored before broadcast
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from lucid_tron.sending import SentTransactions
from lucid_tron.storage import MoneyJobStore

Document = dict[str, Any]

ENERGY_PLANS = "energy_plans"
KEEPER_DELEGATIONS = "keeper_delegations"


class StakingStore(MoneyJobStore):
    """Signed stake changes, idempotency keys, audit log, leases; energy plans and the keeper's delegations."""

    service = "staking"
    indexes = {
        **MoneyJobStore.indexes,
        **SentTransactions.INDEXES,
        ENERGY_PLANS: [
            IndexModel("request_key", unique=True, name="request_key"),
            IndexModel([("state", ASCENDING), ("created_at", ASCENDING)], name="state_age"),
            IndexModel([("sender", ASCENDING), ("state", ASCENDING)], name="sender_state"),
        ],
        KEEPER_DELEGATIONS: [IndexModel([("receiver", ASCENDING), ("state", ASCENDING)], name="receiver_state")],
    }

    # -- energy plans ------------------------------------------------------------------------------------------

    async def insert_plan(self, plan: Document) -> Document:
        """Store a new plan (with its signed delegation, before any broadcast); when a concurrent twin with the
        same request_id stored first, that one is returned and this one is dropped unsent."""
        with self.bounded():
            try:
                await self.collection(ENERGY_PLANS, durable=True).insert_one(plan)
            except DuplicateKeyError:
                existing = await self.plan_for(plan["request_key"])
                assert existing is not None
                return existing
        return plan

    async def plan_for(self, request_id: str) -> Document | None:
        with self.bounded():
            return await self.collection(ENERGY_PLANS).find_one({"request_key": request_id})

    async def plan(self, plan_id: str) -> Document | None:
        with self.bounded():
            return await self.collection(ENERGY_PLANS).find_one({"_id": plan_id})

    async def move_plan(
        self, plan_id: str, from_state: str, *, expect: dict[str, Any] | None = None, **fields: Any
    ) -> Document | None:
        """Set `fields` on the plan if it is still in `from_state` (and matches `expect`): compare-and-set, so of
        two writers only one moves it; the plan after, or None when it had moved on."""
        with self.bounded():
            return await self.collection(ENERGY_PLANS, durable=True).find_one_and_update(
                {"_id": plan_id, "state": from_state, **(expect or {})}, {"$set": fields},
                return_document=ReturnDocument.AFTER,
            )

    async def energy_reserved(self, sender: str) -> int:
        """Energy planned for `sender`'s transfers whose plans are open (DELEGATING or READY): not yet spent, as far
        as the plans know."""
        with self.bounded():
            cursor = await self.collection(ENERGY_PLANS).aggregate([
                {"$match": {"sender": sender, "state": {"$in": ["DELEGATING", "READY"]}}},
                {"$group": {"_id": None, "energy": {"$sum": "$energy_planned"}}},
            ])
            totals = await cursor.to_list()
        return totals[0]["energy"] if totals else 0

    async def plans_to_reap(self, states: list[str], older_than: datetime, limit: int) -> list[Document]:
        """Plans in `states` made before `older_than`, oldest first."""
        with self.bounded():
            cursor = self.collection(ENERGY_PLANS).find(
                {"state": {"$in": states}, "created_at": {"$lt": older_than}}
            ).sort("created_at", ASCENDING).limit(limit)
            return await cursor.to_list()

    # -- keeper delegations ------------------------------------------------------------------------------------

    async def insert_keeper_delegation(self, delegation: Document) -> None:
        with self.bounded():
            await self.collection(KEEPER_DELEGATIONS, durable=True).insert_one(delegation)

    async def pending_keeper_delegation(self, receiver: str) -> Document | None:
        """The keeper's delegation to `receiver` not yet seen in a block, if any."""
        with self.bounded():
            return await self.collection(KEEPER_DELEGATIONS).find_one({"receiver": receiver, "state": "SENT"})

    async def set_keeper_delegation(self, txid: str, **fields: Any) -> None:
        with self.bounded():
            await self.collection(KEEPER_DELEGATIONS, durable=True).update_one({"_id": txid}, {"$set": fields})

    async def keeper_delegations(self, receiver: str) -> list[Document]:
        """Every delegation the keeper made to `receiver`, oldest first."""
        with self.bounded():
            cursor = self.collection(KEEPER_DELEGATIONS).find({"receiver": receiver}).sort("created_at", ASCENDING)
            return await cursor.to_list()

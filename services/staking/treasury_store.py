"""The treasury's MongoDB (in staking's database): sweeps, one per invoice, each with every step's signed transaction;
the sweeper's schedule; the sweeper's lease and the idempotency keys of RunSweep.

A sweep is inserted once per invoice (a unique index on invoice_id), so looking for paid invoices twice, or from two
places at once (the schedule and RunSweep), never starts a second sweep. Every change of a sweep is conditional on its
`version` as read and, from the sweeper, fenced by its lease, so a paused former sweeper cannot write.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from lucid_tron.errors import Aborted
from lucid_tron.storage import Lease, Leases, MoneyJobStore, in_transaction, utc_now

Document = dict[str, Any]
SWEEPS = "sweeps"
SCHEDULE = "treasury_schedule"
_SCHEDULE_ID = "sweeper"
SWEEP_CHANGED = "SWEEP_CHANGED"
#: Sweeps the sweeper still has work on.
OPEN_STATES = ("PENDING", "SWEEPING")


class TreasuryStore(MoneyJobStore):
    """Sweeps by id (newest first; by invoice, deposit address, asset, state); the schedule document."""

    service = "staking"
    indexes: ClassVar[Mapping[str, Any]] = {
        **MoneyJobStore.indexes,
        SWEEPS: [
            IndexModel("invoice_id", unique=True, name="invoice_id"),
            IndexModel([("state", ASCENDING), ("created_at", ASCENDING)], name="state"),
            IndexModel([("created_at", DESCENDING), ("_id", DESCENDING)], name="newest"),
            IndexModel([("deposit_address", ASCENDING), ("created_at", DESCENDING)], name="deposit_address"),
        ],
        SCHEDULE: [],
    }

    async def insert_sweep(self, sweep: Document) -> bool:
        """Record a new sweep; False when its invoice already has one."""
        try:
            with self.bounded():
                await self.collection(SWEEPS, durable=True).insert_one(sweep)
        except DuplicateKeyError:
            return False
        return True

    async def swept_invoices(self, invoice_ids: list[str]) -> set[str]:
        """Which of these invoices already have a sweep."""
        with self.bounded():
            found = self.collection(SWEEPS).find({"invoice_id": {"$in": invoice_ids}}, {"invoice_id": 1})
            return {document["invoice_id"] for document in await found.to_list()}

    async def sweep(self, sweep_id: str) -> Document | None:
        with self.bounded():
            return await self.collection(SWEEPS).find_one({"_id": sweep_id})

    async def list_sweeps(self, query: Mapping[str, Any], limit: int) -> list[Document]:
        with self.bounded():
            cursor = self.collection(SWEEPS).find(query).sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            return await cursor.limit(limit).to_list()

    async def open_sweeps(self, limit: int) -> list[Document]:
        """Sweeps with work left, those already under way first, then the oldest."""
        with self.bounded():
            cursor = self.collection(SWEEPS).find({"state": {"$in": list(OPEN_STATES)}})
            return await cursor.sort([("state", DESCENDING), ("created_at", ASCENDING)]).limit(limit).to_list()

    async def open_sweep_count(self, asset: str) -> int:
        with self.bounded():
            return await self.collection(SWEEPS).count_documents({"asset": asset, "state": {"$in": list(OPEN_STATES)}})

    async def totals(self) -> list[Document]:
        """Per asset and state: the count, the amount and the TRX burned."""
        pipeline = [{"$group": {"_id": {"asset": "$asset", "state": "$state"}, "count": {"$sum": 1},
                                "amount": {"$sum": "$amount"}, "fee_sun": {"$sum": "$fee_sun"}}}]
        with self.bounded():
            return await (await self.collection(SWEEPS).aggregate(pipeline)).to_list()

    async def apply(self, sweep: Document, changes: Mapping[str, Any], *, lease: tuple[Leases, Lease]) -> Document:
        """Commit `changes` to the sweep as read (its `version` unchanged since), fenced by the sweeper's lease
        (LeaseLost once another sweeper took over). Aborted (SWEEP_CHANGED) when it changed in between."""
        changes = {**changes, "version": sweep["version"] + 1, "updated_at": utc_now()}

        async def work(session: AsyncClientSession) -> None:
            result = await self.collection(SWEEPS, durable=True).update_one(
                {"_id": sweep["_id"], "version": sweep["version"]}, {"$set": changes}, session=session
            )
            if result.matched_count == 0:
                raise Aborted("the sweep changed concurrently; read it again", reason=SWEEP_CHANGED)

        leases, held = lease
        with self.bounded():
            await leases.fenced(held, work)
        return {**sweep, **changes}

    async def schedule(self) -> Document:
        with self.bounded():
            found = await self.collection(SCHEDULE).find_one({"_id": _SCHEDULE_ID})
        return found or {"_id": _SCHEDULE_ID}

    async def set_schedule(self, last_run_at: datetime, next_run_at: datetime) -> None:
        async def work(session: AsyncClientSession) -> None:
            await self.collection(SCHEDULE, durable=True).update_one(
                {"_id": _SCHEDULE_ID}, {"$set": {"last_run_at": last_run_at, "next_run_at": next_run_at}},
                upsert=True, session=session,
            )

        with self.bounded():
            await in_transaction(self.db.client, work)

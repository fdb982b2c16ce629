"""The chain watcher's part of payment-gateway's MongoDB: its cursor, and the invoices it watches.

Kept apart from `store` because only the watcher (and the expiry job, which reads the cursor's time) uses it. The
cursor is one document: the last solidified block whose transfers are all processed (`block`, stamped `time`) and
the highest unsolidified block read for SEEN payments (`scanned_head`). It is written only through the watcher's
lease (`fence`), so a former holder that wakes up late cannot move it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from . import states
from .messages import MAX_MONITORING_WINDOW
from .store import INVOICES, Fence, PaymentGatewayStore

CURSORS = "watcher_cursor"
CURSOR_ID = "chain-watcher"


@dataclass(frozen=True)
class ChainCursor:
    """Where the watcher is: every transfer in blocks <= `block` (stamped `time`) is processed for good."""

    block: int
    time: datetime
    #: The highest block read at head (unsolidified) for SEEN payments; never below `block`.
    scanned_head: int


class WatcherStore:
    """The cursor and the watched invoices, on the gateway's store (opened after the start hooks)."""

    def __init__(self, store: PaymentGatewayStore) -> None:
        self._store = store

    async def cursor(self) -> ChainCursor | None:
        """The saved cursor; None before the watcher's first pass."""
        with self._store.bounded():
            found = await self._store.collection(CURSORS).find_one({"_id": CURSOR_ID})
        if found is None:
            return None
        return ChainCursor(found["block"], found["time"], found["scanned_head"])

    async def chain_time(self) -> datetime | None:
        """The time of the last block the watcher processed for good: the chain's clock for the expiry job; None
        before its first pass."""
        cursor = await self.cursor()
        return None if cursor is None else cursor.time

    async def save(self, cursor: ChainCursor, fence: Fence) -> None:
        """Store `cursor`, only while the lease holds (raises LeaseLost otherwise)."""

        async def work(session: AsyncClientSession) -> None:
            await self._store.collection(CURSORS, durable=True).update_one(
                {"_id": CURSOR_ID},
                {"$set": {"block": cursor.block, "time": cursor.time, "scanned_head": cursor.scanned_head}},
                upsert=True,
                session=session,
            )

        with self._store.bounded():
            await fence(work)

    async def watched(self, chain_time: datetime) -> list[dict[str, Any]]:
        """The invoices a payment can still change: open ones, expired ones whose monitoring window is not over at
        `chain_time`, and any with a payment SEEN but not yet credited."""
        query = {
            "$or": [
                {"status": {"$in": [states.PENDING, states.SEEN, states.CONFIRMING]}},
                {"status": states.EXPIRED, "expire_at": {"$gte": chain_time - MAX_MONITORING_WINDOW}},
                {"pending": {"$gt": 0}},
            ]
        }
        with self._store.bounded():
            found = await self._store.collection(INVOICES).find(query).to_list()
        return [invoice for invoice in found if _still_watched(invoice, chain_time)]


def _still_watched(invoice: dict[str, Any], chain_time: datetime) -> bool:
    if invoice["status"] != states.EXPIRED or invoice["pending"] > 0:
        return True
    return invoice["expire_at"] + timedelta(seconds=invoice["monitoring_window_s"]) > chain_time

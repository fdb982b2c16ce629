"""Transactional outbox: a state change and the event that announces it commit together, and are delivered after.

    async def create(session):
        await payouts.insert_one(payout, session=session)
        await store.outbox.emit(session, subject=payout["_id"], kind="payout.created", payload={...})

    with store.bounded():
        await in_transaction(store.db.client, create)

    dispatcher = OutboxDispatcher(store.outbox, deliver=publish)     # one per outbox: run it under a Lease
    await dispatcher.run()

Guarantees: an event exists if and only if its state change committed; every event of a subject has a sequence
number one above the previous one (1, 2, 3, ... no gaps: the counter is written in the same transaction, so an
aborted change takes its number back); the dispatcher delivers each event at least once, in sequence order per
subject, and marks it delivered only after `deliver` returned. A crash after the commit loses nothing: the event
stays pending until a dispatcher delivers it. Consumers deduplicate by (subject, seq).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from bson import ObjectId
from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from lucid_tron.errors import Unavailable

from ._bounds import bounded
from ._mongo import DURABLE_WRITES
from ._transactions import utc_now

__all__ = ["Outbox", "OutboxDispatcher", "OutboxEvent"]

#: How long a delivered event is kept for inspection before the TTL index removes it.
DELIVERED_RETENTION = timedelta(days=7)

_log = logging.getLogger("lucid_tron.storage.outbox")


@dataclass(frozen=True)
class OutboxEvent:
    """One event: `seq` counts the events of `subject` from 1, without gaps."""

    id: ObjectId
    subject: str
    seq: int
    kind: str
    payload: Mapping[str, Any]
    created_at: datetime


class Outbox:
    """The events of one service (a durable collection) and the per-subject counters that number them."""

    COLLECTION: ClassVar[str] = "outbox"
    SEQUENCES: ClassVar[str] = "outbox_sequences"
    #: For a store's `indexes`: one event per (subject, seq); pending events in delivery order; delivered ones expire.
    INDEXES: ClassVar[Mapping[str, list[IndexModel]]] = {
        COLLECTION: [
            IndexModel([("subject", ASCENDING), ("seq", ASCENDING)], unique=True, name="subject_seq"),
            IndexModel([("delivered", ASCENDING), ("subject", ASCENDING), ("seq", ASCENDING)], name="pending"),
            IndexModel(
                "delivered_at", expireAfterSeconds=int(DELIVERED_RETENTION.total_seconds()), name="expire_delivered"
            ),
        ],
        SEQUENCES: [],
    }

    def __init__(self, events: AsyncCollection[Any], sequences: AsyncCollection[Any]) -> None:
        self._events = events
        self._sequences = sequences

    @classmethod
    def in_database(cls, db: AsyncDatabase[Any]) -> Outbox:
        """The outbox in `db`'s COLLECTION and SEQUENCES, written with DURABLE_WRITES."""
        return cls(
            db.get_collection(cls.COLLECTION, write_concern=DURABLE_WRITES),
            db.get_collection(cls.SEQUENCES, write_concern=DURABLE_WRITES),
        )

    async def emit(self, session: AsyncClientSession, subject: str, kind: str, payload: Mapping[str, Any]) -> int:
        """Record an event in the caller's transaction (`session` of `in_transaction`); its sequence number."""
        if not session.in_transaction:
            raise ValueError("Outbox.emit needs a session inside a transaction: the event must commit with its change")
        counter = await self._sequences.find_one_and_update(
            {"_id": subject},
            {"$inc": {"seq": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        seq: int = counter["seq"]
        await self._events.insert_one(
            {
                "subject": subject,
                "seq": seq,
                "kind": kind,
                "payload": dict(payload),
                "created_at": utc_now(),
                "delivered": False,
                "delivered_at": None,
            },
            session=session,
        )
        return seq

    async def pending(self, limit: int) -> list[OutboxEvent]:
        """Up to `limit` undelivered events, by subject and then sequence: a subject's oldest pending event first."""
        with bounded():
            cursor = self._events.find({"delivered": False}).sort([("subject", ASCENDING), ("seq", ASCENDING)])
            documents = await cursor.limit(limit).to_list()
        return [
            OutboxEvent(doc["_id"], doc["subject"], doc["seq"], doc["kind"], doc["payload"], doc["created_at"])
            for doc in documents
        ]

    async def mark_delivered(self, event: OutboxEvent) -> None:
        with bounded():
            await self._events.update_one(
                {"_id": event.id}, {"$set": {"delivered": True, "delivered_at": utc_now()}}
            )


class OutboxDispatcher:
    """Delivers an outbox's events to `deliver`, at least once and in order per subject.

    When `deliver` raises for an event, the later events of that subject wait for the next round (order holds);
    other subjects go on. A batch takes pending events by subject name, so a backlog larger than `batch_size`
    delays the subjects late in that order until it drains. Run exactly one dispatcher per outbox (hold a Lease):
    two would deliver one subject's events concurrently and out of order.
    """

    def __init__(
        self,
        outbox: Outbox,
        deliver: Callable[[OutboxEvent], Awaitable[None]],
        *,
        batch_size: int = 100,
        poll_s: float = 0.5,
    ) -> None:
        self._outbox = outbox
        self._deliver = deliver
        self._batch_size = batch_size
        self._poll_s = poll_s

    async def dispatch_once(self) -> int:
        """Deliver one batch of pending events; how many were delivered."""
        blocked: set[str] = set()
        delivered = 0
        for event in await self._outbox.pending(self._batch_size):
            if event.subject in blocked:
                continue
            try:
                await self._deliver(event)
            except Exception:
                _log.warning(
                    "delivery of %s #%d failed; retried in the next round", event.kind, event.seq, exc_info=True
                )
                blocked.add(event.subject)
                continue
            await self._outbox.mark_delivered(event)
            delivered += 1
        return delivered

    async def run(self) -> None:
        """Dispatch until cancelled, polling every `poll_s` seconds when there is nothing to deliver."""
        while True:
            try:
                delivered = await self.dispatch_once()
            except Unavailable:
                _log.warning("MongoDB is unavailable; the outbox waits", exc_info=True)
                delivered = 0
            if delivered == 0:
                await asyncio.sleep(self._poll_s)

"""Transactional outbox: a state change and the event that announces it commit together, and are delivered after.

    async def create(session):
        await payouts.insert_one(payout, session=session)
        await store.outbox.emit(session, subject=payout["_id"], kind="payout.created", payload={...})

    with store.bounded():
        await in_transaction(store.db.client, create)

    leases = store.leases(owner=f"{host}:{pid}", ttl_s=10)
    await OutboxDispatcher(store.outbox, publish, leases).run()      # on every replica: one delivers at a time

Guarantees: an event exists if and only if its state change committed; every event of a subject has a sequence
number one above the previous one (1, 2, 3, ... no gaps: the counter is written in the same transaction, so an
aborted change takes its number back); the dispatcher delivers each event at least once, in sequence order per
subject, and marks it delivered only after `deliver` returned. A crash after the commit loses nothing: the event
stays pending until a dispatcher delivers it. Consumers deduplicate by (subject, seq).

Order per subject needs a single deliverer, so a dispatcher delivers only while it holds its lease, and each
batch's marks are fenced by the lease's token: a dispatcher that was paused (SIGSTOP, a long GC) past its lease
time and wakes up after another took over has its marks refused and stops, having delivered at most the rest of the
batch it was on (again: the new holder delivers those too, since they were not marked).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar

from bson import ObjectId
from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from lucid_tron.errors import Unavailable

from ._bounds import bounded
from ._bulk import Insert
from ._leases import Lease, LeaseLost, Leases
from ._mongo import DURABLE_WRITES
from ._transactions import utc_now

__all__ = ["Outbox", "OutboxDispatcher", "OutboxEvent", "raise_if_cancelled"]

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

    async def emit(
        self, session: AsyncClientSession, subject: str, kind: str, payload: Mapping[str, Any], *, seq: int | None = None
    ) -> int:
        """Record an event in the caller's transaction (`session` of `in_transaction`); its sequence number.

        `seq`: the subject's own number for the event, when the subject keeps one that is gap-free already (its
        document's sequence, advanced by one with a write conditional on the previous value in this same
        transaction, with an event at every step): the counter is then neither read nor written, a round trip
        less. Number a subject one way only, always from its own sequence or always from the counter; a `seq`
        the subject already has is refused (DuplicateKeyError), ending the transaction."""
        if not session.in_transaction:
            raise ValueError("Outbox.emit needs a session inside a transaction: the event must commit with its change")
        if seq is None:
            counter = await self._sequences.find_one_and_update(
                {"_id": subject},
                {"$inc": {"seq": 1}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            seq = int(counter["seq"])
        await self._events.insert_one(_pending(subject, seq, kind, payload), session=session)
        return seq

    def emit_write(self, subject: str, kind: str, payload: Mapping[str, Any], *, seq: int) -> Insert:
        """`emit` with the subject's own `seq` as a write for `write_together`, among its change's writes."""
        return Insert(self._events.name, _pending(subject, seq, kind, payload))

    async def pending(self, limit: int) -> list[OutboxEvent]:
        """Up to `limit` undelivered events, by subject and then sequence: a subject's oldest pending event first."""
        with bounded():
            cursor = self._events.find({"delivered": False}).sort([("subject", ASCENDING), ("seq", ASCENDING)])
            documents = await cursor.limit(limit).to_list()
        return [
            OutboxEvent(doc["_id"], doc["subject"], doc["seq"], doc["kind"], doc["payload"], doc["created_at"])
            for doc in documents
        ]

    async def mark_delivered(self, events: Sequence[OutboxEvent], session: AsyncClientSession) -> None:
        """Mark `events` delivered in the transaction of `session` (the dispatcher's fenced one)."""
        await self._events.update_many(
            {"_id": {"$in": [event.id for event in events]}},
            {"$set": {"delivered": True, "delivered_at": utc_now()}},
            session=session,
        )


class _Holding:
    """A lease as a running dispatcher holds it: until a renewal is refused, or its time runs out unrenewed
    (MongoDB unreachable, or this process paused): `valid_until` is on the monotonic clock, which runs on while the
    process is stopped, and starts before the request that set the server's expiry, so it ends no later."""

    def __init__(self, lease: Lease, requested_at: float, ttl_s: float) -> None:
        self.lease = lease
        self.valid_until = requested_at + ttl_s
        self.lost: LeaseLost | None = None

    def held(self) -> bool:
        return self.lost is None and time.monotonic() < self.valid_until


class OutboxDispatcher:
    """Delivers an outbox's events to `deliver`, at least once and in order per subject, while it holds the lease
    `lease_name` of `leases` (in the outbox's database): run one on every replica, one delivers at a time.

    `run` takes the lease when it is free, renews it every third of its time in the background (a slow `deliver`
    keeps it), and fences every mark by its token. When a renewal is refused or the lease's time runs out
    unrenewed, it delivers nothing more and waits for the lease again; a refused mark stops it the same way.
    Takeover after a holder dies: within the lease time plus `poll_s`.

    When `deliver` raises for an event, the later events of that subject wait for the next round (order holds);
    other subjects go on. A batch takes pending events by subject name, so a backlog larger than `batch_size`
    delays the subjects late in that order until it drains.

    A batch's events are marked together, in one fenced transaction after the last delivery (a lost lease leaves
    the whole batch to the next holder: at least once). After a batch that was not full, the next one waits `linger_s`,
    so that events committed one by one in a burst are read and marked a batch at a time: the database work per
    event shrinks with the load instead of growing with it, for at most `linger_s` more latency.
    """

    def __init__(
        self,
        outbox: Outbox,
        deliver: Callable[[OutboxEvent], Awaitable[None]],
        leases: Leases,
        *,
        lease_name: str = "outbox-dispatcher",
        batch_size: int = 100,
        poll_s: float = 0.5,
        linger_s: float = 0.05,
    ) -> None:
        self._outbox = outbox
        self._deliver = deliver
        self._leases = leases
        self._lease_name = lease_name
        self._batch_size = batch_size
        self._poll_s = poll_s
        self._linger_s = linger_s

    async def dispatch_once(self, lease: Lease) -> int:
        """Deliver one batch of pending events under `lease`, which the caller holds and renews; how many were
        delivered. Raises LeaseLost, having marked nothing more, when a mark is refused (the lease was taken over)."""
        return await self._dispatch_batch(lease, lambda: True)

    async def run(self) -> None:
        """Dispatch until cancelled: wait for the lease, deliver while holding it, wait again when it is lost.
        Cancelled, it releases the lease, so that a standby takes over within `poll_s` instead of the lease time."""
        while True:
            holding = await self._acquire()
            renewing = asyncio.create_task(self._renew(holding))
            try:
                await self._dispatch_while(holding)
            except LeaseLost as lost:
                holding.lost = lost
            except asyncio.CancelledError:
                await _stopped(renewing)  # a renewal landing after the release would take the lease back
                with suppress(Unavailable):
                    await self._leases.release(holding.lease)
                raise
            finally:
                renewing.cancel()
            _log.warning("stopped delivering: %s", holding.lost or f"lease {self._lease_name!r} ran out unrenewed")

    async def _acquire(self) -> _Holding:
        while True:
            raise_if_cancelled()
            requested_at = time.monotonic()
            try:
                lease = await self._leases.acquire(self._lease_name)
            except Unavailable:
                _log.warning("MongoDB is unavailable; the outbox waits", exc_info=True)
                lease = None
            if lease is not None:
                _log.info("holding lease %r with token %d: delivering", lease.name, lease.token)
                return _Holding(lease, requested_at, self._leases.ttl_s)
            await asyncio.sleep(self._poll_s)

    async def _renew(self, holding: _Holding) -> None:
        while True:
            raise_if_cancelled()
            await asyncio.sleep(self._leases.ttl_s / 3)
            requested_at = time.monotonic()
            try:
                holding.lease = await self._leases.renew(holding.lease)
            except LeaseLost as lost:
                holding.lost = lost
                return
            except Unavailable:
                _log.warning("could not renew lease %r; retrying", self._lease_name, exc_info=True)
                continue
            holding.valid_until = requested_at + self._leases.ttl_s

    async def _dispatch_while(self, holding: _Holding) -> None:
        while holding.held():
            raise_if_cancelled()
            try:
                delivered = await self._dispatch_batch(holding.lease, holding.held)
            except Unavailable:
                _log.warning("MongoDB is unavailable; the outbox waits", exc_info=True)
                delivered = 0
            if delivered == 0:
                await asyncio.sleep(self._poll_s)
            elif delivered < self._batch_size:
                await asyncio.sleep(self._linger_s)

    async def _dispatch_batch(self, lease: Lease, held: Callable[[], bool]) -> int:
        blocked: set[str] = set()
        delivered: list[OutboxEvent] = []
        for event in await self._outbox.pending(self._batch_size):
            if event.subject in blocked:
                continue
            if not held():
                break
            try:
                await self._deliver(event)
            except Exception:
                _log.warning(
                    "delivery of %s #%d failed; retried in the next round", event.kind, event.seq, exc_info=True
                )
                blocked.add(event.subject)
                continue
            delivered.append(event)
        if delivered:
            try:
                await self._leases.fenced(lease, partial(self._outbox.mark_delivered, delivered))
            except LeaseLost:
                _log.warning("the marks of %d delivered events were refused", len(delivered))
                raise
        return len(delivered)


def _pending(subject: str, seq: int, kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "subject": subject,
        "seq": seq,
        "kind": kind,
        "payload": dict(payload),
        "created_at": utc_now(),
        "delivered": False,
        "delivered_at": None,
    }


def raise_if_cancelled() -> None:
    """Raise CancelledError when this task was asked to stop. On Python 3.11 a call into pymongo can swallow the
    CancelledError (asyncio.wait_for in its pool's lock, CPython gh-86296): a loop that went on would never stop.
    Call it at the top of every loop of a background job that uses MongoDB."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def _stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.wait([task])

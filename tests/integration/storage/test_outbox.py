"""Transactional outbox: change and event commit together, numbered without gaps, delivered in order at least once."""

from __future__ import annotations

import asyncio

import pytest

from integration.storage.storage_processes import Worker
from lucid_tron.storage import (
    Outbox,
    OutboxDispatcher,
    OutboxEvent,
    ensure_indexes,
    in_transaction,
)


@pytest.fixture
async def outbox(mongo_db) -> Outbox:
    await ensure_indexes(mongo_db, Outbox.INDEXES)
    return Outbox.in_database(mongo_db)


class Recorder:
    """A delivery target that records (subject, seq) and can be told to fail for some events."""

    def __init__(self, failing: set[tuple[str, int]] = frozenset()) -> None:
        self.delivered: list[tuple[str, int]] = []
        self.failing = set(failing)

    async def __call__(self, event: OutboxEvent) -> None:
        if (event.subject, event.seq) in self.failing:
            raise ConnectionError("consumer down")
        self.delivered.append((event.subject, event.seq))


async def pay_invoice(db, outbox: Outbox, invoice_id: str, kinds: tuple[str, ...] = ("invoice.paid",)) -> None:
    async def change(session):
        await db.invoices.update_one({"_id": invoice_id}, {"$inc": {"payments": 1}}, upsert=True, session=session)
        for kind in kinds:
            await outbox.emit(session, invoice_id, kind, {"invoice_id": invoice_id})

    await in_transaction(db.client, change)


async def test_a_committed_change_and_its_event_are_both_stored(mongo_db, outbox):
    await pay_invoice(mongo_db, outbox, "inv-1")

    assert (await mongo_db.invoices.find_one({"_id": "inv-1"}))["payments"] == 1
    [event] = await outbox.pending(10)
    assert (event.subject, event.seq, event.kind) == ("inv-1", 1, "invoice.paid")
    assert event.payload == {"invoice_id": "inv-1"}


async def test_an_aborted_change_leaves_neither_the_change_nor_its_event_nor_a_gap(mongo_db, outbox):
    async def change_then_fail(session):
        await mongo_db.invoices.insert_one({"_id": "inv-1"}, session=session)
        await outbox.emit(session, "inv-1", "invoice.created", {})
        raise ValueError("validation failed after the write")

    with pytest.raises(ValueError):
        await in_transaction(mongo_db.client, change_then_fail)
    await pay_invoice(mongo_db, outbox, "inv-1")

    assert await mongo_db.invoices.count_documents({}) == 1
    assert [(event.kind, event.seq) for event in await outbox.pending(10)] == [("invoice.paid", 1)]


async def test_concurrent_changes_number_a_subjects_events_without_gaps_or_duplicates(mongo_db, outbox):
    await asyncio.gather(*(pay_invoice(mongo_db, outbox, "inv-1") for _ in range(8)))
    await pay_invoice(mongo_db, outbox, "inv-2")

    events = await outbox.pending(100)
    assert [event.seq for event in events if event.subject == "inv-1"] == list(range(1, 9))
    assert [event.seq for event in events if event.subject == "inv-2"] == [1]


async def test_an_event_outside_a_transaction_is_refused(mongo_db, outbox):
    async with mongo_db.client.start_session() as session:
        with pytest.raises(ValueError):
            await outbox.emit(session, "inv-1", "invoice.paid", {})


async def test_the_dispatcher_delivers_every_event_once_in_order_per_subject(mongo_db, outbox):
    for invoice_id in ("inv-2", "inv-1", "inv-2"):
        await pay_invoice(mongo_db, outbox, invoice_id, ("invoice.paid", "invoice.closed"))
    recorder = Recorder()

    assert await OutboxDispatcher(outbox, recorder).dispatch_once() == 6
    assert await OutboxDispatcher(outbox, recorder).dispatch_once() == 0

    assert [seq for subject, seq in recorder.delivered if subject == "inv-2"] == [1, 2, 3, 4]
    assert [seq for subject, seq in recorder.delivered if subject == "inv-1"] == [1, 2]


async def test_a_failed_delivery_holds_back_its_subject_only_and_is_retried(mongo_db, outbox):
    await pay_invoice(mongo_db, outbox, "inv-1", ("invoice.paid", "invoice.closed"))
    await pay_invoice(mongo_db, outbox, "inv-2")
    recorder = Recorder(failing={("inv-1", 1)})
    dispatcher = OutboxDispatcher(outbox, recorder)

    await dispatcher.dispatch_once()
    assert recorder.delivered == [("inv-2", 1)]

    recorder.failing.clear()
    await dispatcher.dispatch_once()
    assert recorder.delivered == [("inv-2", 1), ("inv-1", 1), ("inv-1", 2)]


async def test_a_dispatcher_killed_between_commit_and_delivery_loses_nothing(mongo_url, mongo_db, outbox):
    worker = Worker("outbox", mongo_url, mongo_db.name)
    try:
        worker.wait_for("committed")
        worker.wait_for("delivering 2")  # #1 delivered and marked; the process hangs delivering #2
    finally:
        worker.kill()
    recorder = Recorder()

    await OutboxDispatcher(outbox, recorder).dispatch_once()

    assert recorder.delivered == [("inv-1", 2), ("inv-1", 3)]
    assert await mongo_db.invoices.find_one({"_id": "inv-1"}) == {"_id": "inv-1", "state": "paid"}


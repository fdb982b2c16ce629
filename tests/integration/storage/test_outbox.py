"""Transactional outbox: change and event commit together, numbered without gaps, delivered in order at least once,
by the one dispatcher that holds the outbox's lease.

The lease tests run each dispatcher as a real OS process and crash (SIGKILL) or pause (SIGSTOP) it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from pymongo.errors import DuplicateKeyError

from integration.storage.storage_processes import Worker
from integration.storage.storage_workers import DISPATCH_POLL_S
from lucid_tron.storage import (
    Lease,
    LeaseLost,
    Leases,
    Outbox,
    OutboxDispatcher,
    OutboxEvent,
    connect_mongo,
    ensure_indexes,
    in_transaction,
)

#: The dispatcher's lease, by default.
LEASE = "outbox-dispatcher"
TTL_S = 1.0
#: How long past the lease time a test waits for the takeover before it fails.
TAKEOVER_SLACK_S = 0.5
SUBJECTS = ("inv-1", "inv-2", "inv-3")
EVENTS_PER_SUBJECT = 4


@pytest.fixture
async def outbox(mongo_db) -> Outbox:
    await ensure_indexes(mongo_db, Outbox.INDEXES)
    return Outbox.in_database(mongo_db)


def leases_of(mongo_db, owner: str, ttl_s: float = 30.0) -> Leases:
    return Leases.in_database(mongo_db, owner=owner, ttl_s=ttl_s)


@pytest.fixture
def leases(mongo_db) -> Leases:
    return leases_of(mongo_db, "test")


@pytest.fixture
async def lease(leases) -> Lease:
    held = await leases.acquire(LEASE)
    assert held is not None
    return held


async def take_over(leases: Leases, timeout: float = 5.0) -> Lease:
    """The dispatcher's lease, as soon as its holder's time has run out."""
    deadline = time.monotonic() + timeout
    while (held := await leases.acquire(LEASE)) is None:
        assert time.monotonic() < deadline, f"lease {LEASE!r} not free within {timeout} s"
        await asyncio.sleep(0.05)
    return held


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


async def test_a_subject_numbered_by_its_own_sequence_leaves_the_counter_alone(mongo_db, outbox):
    async def change(session):
        await mongo_db.invoices.insert_one({"_id": "inv-1", "sequence": 1}, session=session)
        return await outbox.emit(session, "inv-1", "invoice.created", {}, seq=1)

    assert await in_transaction(mongo_db.client, change) == 1
    assert [(event.subject, event.seq) for event in await outbox.pending(10)] == [("inv-1", 1)]
    assert await mongo_db[Outbox.SEQUENCES].count_documents({}) == 0


async def test_an_own_sequence_number_the_subject_already_has_is_refused_with_its_change(mongo_db, outbox):
    async def change(session):
        await mongo_db.invoices.update_one({"_id": "inv-1"}, {"$inc": {"changes": 1}}, upsert=True, session=session)
        await outbox.emit(session, "inv-1", "invoice.paid", {}, seq=1)

    await in_transaction(mongo_db.client, change)
    with pytest.raises(DuplicateKeyError):
        await in_transaction(mongo_db.client, change)

    assert (await mongo_db.invoices.find_one({"_id": "inv-1"}))["changes"] == 1
    assert [event.seq for event in await outbox.pending(10)] == [1]


async def test_an_event_outside_a_transaction_is_refused(mongo_db, outbox):
    async with mongo_db.client.start_session() as session:
        with pytest.raises(ValueError):
            await outbox.emit(session, "inv-1", "invoice.paid", {})


async def test_the_dispatcher_delivers_every_event_once_in_order_per_subject(mongo_db, outbox, leases, lease):
    for invoice_id in ("inv-2", "inv-1", "inv-2"):
        await pay_invoice(mongo_db, outbox, invoice_id, ("invoice.paid", "invoice.closed"))
    recorder = Recorder()

    assert await OutboxDispatcher(outbox, recorder, leases).dispatch_once(lease) == 6
    assert await OutboxDispatcher(outbox, recorder, leases).dispatch_once(lease) == 0

    assert [seq for subject, seq in recorder.delivered if subject == "inv-2"] == [1, 2, 3, 4]
    assert [seq for subject, seq in recorder.delivered if subject == "inv-1"] == [1, 2]


async def test_a_failed_delivery_holds_back_its_subject_only_and_is_retried(mongo_db, outbox, leases, lease):
    await pay_invoice(mongo_db, outbox, "inv-1", ("invoice.paid", "invoice.closed"))
    await pay_invoice(mongo_db, outbox, "inv-2")
    recorder = Recorder(failing={("inv-1", 1)})
    dispatcher = OutboxDispatcher(outbox, recorder, leases)

    await dispatcher.dispatch_once(lease)
    assert recorder.delivered == [("inv-2", 1)]

    recorder.failing.clear()
    await dispatcher.dispatch_once(lease)
    assert recorder.delivered == [("inv-2", 1), ("inv-1", 1), ("inv-1", 2)]


async def test_a_dispatcher_killed_between_commit_and_delivery_loses_nothing(mongo_url, mongo_db, outbox):
    worker = Worker("outbox", mongo_url, mongo_db.name)
    try:
        await worker.reported("committed")
        await worker.reported("delivered inv-1 2")  # #1 delivered; the process hangs delivering #2 of the batch
    finally:
        worker.kill()
    recorder = Recorder()
    leases = leases_of(mongo_db, "test")

    await OutboxDispatcher(outbox, recorder, leases).dispatch_once(await take_over(leases))

    # A batch is marked after its last delivery: the killed one's batch is delivered again, whole (at least once).
    assert recorder.delivered == [("inv-1", 1), ("inv-1", 2), ("inv-1", 3)]
    assert await mongo_db.invoices.find_one({"_id": "inv-1"}) == {"_id": "inv-1", "state": "paid"}



async def test_the_marks_after_a_takeover_are_refused_and_nothing_of_the_batch_is_marked(mongo_db, outbox):
    await pay_invoice(mongo_db, outbox, "inv-1", ("invoice.paid", "invoice.closed"))
    former_leases = leases_of(mongo_db, "a", ttl_s=0.1)
    former = await former_leases.acquire(LEASE)
    recorder = Recorder()

    async def deliver_while_taken_over(event: OutboxEvent) -> None:
        await recorder(event)
        await take_over(leases_of(mongo_db, "b"))  # "a" was paused past its lease time while delivering

    with pytest.raises(LeaseLost):
        await OutboxDispatcher(outbox, deliver_while_taken_over, former_leases).dispatch_once(former)

    assert recorder.delivered == [("inv-1", 1), ("inv-1", 2)]  # dispatch_once: the caller checks the lease's time
    assert [event.seq for event in await outbox.pending(10)] == [1, 2]



@contextlib.asynccontextmanager
async def running(dispatcher: OutboxDispatcher) -> AsyncIterator[None]:
    """`dispatcher.run()` in a task for the block, cancelled after it."""
    task = asyncio.create_task(dispatcher.run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait([task])


async def wait_until_held_by(mongo_db, owner: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while await mongo_db.leases.find_one({"_id": LEASE, "owner": owner}) is None:
        assert time.monotonic() < deadline, f"{owner} did not take the lease within {timeout} s"
        await asyncio.sleep(0.05)


async def test_a_dispatcher_keeps_its_lease_through_a_delivery_longer_than_the_lease_time(mongo_db, outbox):
    await pay_invoice(mongo_db, outbox, "inv-1")
    recorder = Recorder()

    async def slow(event: OutboxEvent) -> None:
        await asyncio.sleep(1.0)
        await recorder(event)

    other = leases_of(mongo_db, "b")
    taken_by_other = []
    async with running(OutboxDispatcher(outbox, slow, leases_of(mongo_db, "a", ttl_s=0.3), poll_s=0.05)):
        await wait_until_held_by(mongo_db, "a")
        deadline = time.monotonic() + 5.0
        while await outbox.pending(1) and time.monotonic() < deadline:
            taken_by_other.append(await other.acquire(LEASE))
            await asyncio.sleep(0.05)

    assert taken_by_other and set(taken_by_other) == {None}
    assert recorder.delivered == [("inv-1", 1)]
    assert await outbox.pending(1) == []


def taken_over_while_this_process_stands_still(mongo_url: str, database: str) -> None:
    """Block this thread, and so its event loop, as SIGSTOP would, until another worker ("b", on a thread and client
    of its own) has taken the lease over once its time ran out unrenewed. Taking it over after the pause instead would
    race the holder's own renewal, which is due the moment its loop runs again and may land first."""

    async def take() -> None:
        client, db = connect_mongo(mongo_url, database, app_name="lucid-tron-tests")
        try:
            await take_over(leases_of(db, "b"))
        finally:
            await client.close()

    with ThreadPoolExecutor(max_workers=1) as other_worker:
        other_worker.submit(asyncio.run, take()).result()


async def test_a_dispatcher_paused_past_its_lease_delivers_nothing_more_even_after_a_failed_delivery(
    mongo_url, mongo_db, outbox
):
    await pay_invoice(mongo_db, outbox, "inv-1")
    await pay_invoice(mongo_db, outbox, "inv-2")
    attempts = []

    async def paused_then_failing(event: OutboxEvent) -> None:
        attempts.append((event.subject, event.seq))
        if len(attempts) == 1:
            taken_over_while_this_process_stands_still(mongo_url, mongo_db.name)
            raise ConnectionError("consumer down")  # so there is no mark to refuse

    async with running(OutboxDispatcher(outbox, paused_then_failing, leases_of(mongo_db, "a", ttl_s=0.3), poll_s=0.05)):
        await asyncio.sleep(0.5)

    assert attempts == [("inv-1", 1)]
    assert len(await outbox.pending(10)) == 2


async def test_a_cancelled_dispatcher_releases_its_lease_so_another_takes_it_at_once(mongo_db, outbox):
    async with running(OutboxDispatcher(outbox, Recorder(), leases_of(mongo_db, "a"), poll_s=0.05)):
        await wait_until_held_by(mongo_db, "a")

    assert await leases_of(mongo_db, "b").acquire(LEASE) is not None

async def emit_events(mongo_db, outbox: Outbox, subjects: tuple[str, ...] = SUBJECTS) -> None:
    """EVENTS_PER_SUBJECT events for each subject, the subjects' changes interleaved."""
    for _ in range(EVENTS_PER_SUBJECT):
        for subject in subjects:
            await pay_invoice(mongo_db, outbox, subject)


async def consumer_log(mongo_db) -> list[tuple[str, int, str]]:
    """What the dispatcher workers delivered, in the order the consumer received it: (subject, seq, owner)."""
    log = await mongo_db.consumer.find_one({"_id": "log"})
    return [(entry["subject"], entry["seq"], entry["owner"]) for entry in (log or {}).get("deliveries", [])]


async def wait_until_delivered(outbox: Outbox, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while await outbox.pending(1):
        assert time.monotonic() < deadline, f"events still pending after {timeout} s"
        await asyncio.sleep(0.05)


def assert_in_order_without_gaps(deliveries: list[tuple[str, int, str]], subjects: tuple[str, ...] = SUBJECTS) -> None:
    """Each dispatcher delivered each subject's events in sequence order, and every event arrived; a takeover
    repeats only what the former holder delivered and could not mark (the rest of its batch)."""
    for subject in subjects:
        for owner in {owner for _, _, owner in deliveries}:
            seqs = [seq for delivered_subject, seq, by in deliveries if delivered_subject == subject and by == owner]
            assert seqs == sorted(seqs), f"{subject} out of order from {owner}: {seqs}"
        seqs = [seq for delivered_subject, seq, _ in deliveries if delivered_subject == subject]
        assert sorted(set(seqs)) == list(range(1, EVENTS_PER_SUBJECT + 1)), f"{subject} has gaps: {seqs}"


async def dispatcher_worker(mongo_url: str, database: str, owner: str, hang: tuple[str, int] | None = None) -> Worker:
    hang_args = (hang[0], str(hang[1])) if hang else ()
    worker = Worker("dispatch", mongo_url, database, owner, str(TTL_S), *hang_args)
    await worker.reported("ready")
    return worker


async def start_holder_and_waiter(mongo_url: str, mongo_db, outbox: Outbox) -> tuple[Worker, Worker]:
    """Events for SUBJECTS, a holder that delivers inv-1's and hangs delivering inv-2 #2, and a waiter standing by."""
    await emit_events(mongo_db, outbox)
    holder = await dispatcher_worker(mongo_url, mongo_db.name, "holder", hang=("inv-2", 2))
    await holder.reported("log holding lease")
    await holder.reported("delivered inv-2 2")
    waiter = await dispatcher_worker(mongo_url, mongo_db.name, "waiter")
    await asyncio.sleep(5 * DISPATCH_POLL_S)  # the waiter has found the lease held
    return holder, waiter


HOLDERS_SHARE = [("inv-1", seq, "holder") for seq in range(1, 5)] + [("inv-2", 1, "holder"), ("inv-2", 2, "holder")]
#: The holder's batch was all the events, marked after its last delivery, which never ended: the waiter delivers
#: them all again (at least once).
WAITERS_SHARE = [(subject, seq, "waiter") for subject in SUBJECTS for seq in range(1, 5)]


async def test_of_two_dispatchers_running_at_once_only_the_lease_holder_delivers(mongo_url, mongo_db, outbox):
    workers = [await dispatcher_worker(mongo_url, mongo_db.name, owner) for owner in ("a", "b")]
    try:
        await emit_events(mongo_db, outbox)  # while both run
        await wait_until_delivered(outbox)
        await asyncio.sleep(5 * DISPATCH_POLL_S)  # a second delivery would have happened by now
    finally:
        for worker in workers:
            worker.kill()  # idle: between steps
    holder = (await mongo_db.leases.find_one({"_id": LEASE}))["owner"]

    deliveries = await consumer_log(mongo_db)
    assert {owner for _, _, owner in deliveries} == {holder}
    assert len(deliveries) == len(SUBJECTS) * EVENTS_PER_SUBJECT  # each once
    assert_in_order_without_gaps(deliveries)


async def test_when_the_holder_is_killed_the_other_dispatcher_takes_over_within_the_lease_time(
    mongo_url, mongo_db, outbox
):
    holder, waiter = await start_holder_and_waiter(mongo_url, mongo_db, outbox)
    try:
        holder.kill()
        killed = time.monotonic()
        await waiter.reported("log holding lease", timeout=TTL_S + TAKEOVER_SLACK_S)
        took_over_after = time.monotonic() - killed
        await wait_until_delivered(outbox)
    finally:
        holder.kill()
        waiter.kill()

    assert TTL_S / 2 <= took_over_after <= TTL_S + TAKEOVER_SLACK_S  # held until it expired, no longer
    deliveries = await consumer_log(mongo_db)
    assert deliveries == HOLDERS_SHARE + WAITERS_SHARE
    assert_in_order_without_gaps(deliveries)


async def test_a_paused_holders_mark_is_refused_when_it_continues_and_it_delivers_nothing_more(
    mongo_url, mongo_db, outbox
):
    holder, waiter = await start_holder_and_waiter(mongo_url, mongo_db, outbox)
    try:
        holder.stop()
        await waiter.reported("log holding lease", timeout=TTL_S + TAKEOVER_SLACK_S)
        await wait_until_delivered(outbox)

        holder.drain()
        holder.resume()  # its delivery of inv-2 #2 returns: it marks its batch
        after_resume = await holder.reported("log the marks of 6 delivered events were refused")
        await emit_events(mongo_db, outbox, ("inv-4",))
        await wait_until_delivered(outbox)
        await asyncio.sleep(5 * DISPATCH_POLL_S)
        after_resume += holder.drain()
    finally:
        holder.kill()  # standing by: between steps
        waiter.kill()

    assert not any(line.startswith("delivered") for line in after_resume)
    deliveries = await consumer_log(mongo_db)
    assert deliveries == HOLDERS_SHARE + WAITERS_SHARE + [("inv-4", seq, "waiter") for seq in range(1, 5)]
    assert_in_order_without_gaps(deliveries, (*SUBJECTS, "inv-4"))

"""Worker processes the storage tests start, crash (SIGKILL) and pause (SIGSTOP/SIGCONT). Each prints its reports,
one line each, flushed:

    storage_workers.py claim URL DATABASE            claim an idempotency key, report "claimed", then hang
    storage_workers.py lease URL DATABASE OWNER TTL  take the lease "job", write under it, renew; report each step
    storage_workers.py dispatch URL DATABASE OWNER TTL [SUBJECT SEQ]
                                                     an outbox dispatcher holding the lease as OWNER; each delivery
                                                     goes to the consumer log and is reported; the delivery of
                                                     SUBJECT #SEQ hangs until SIGCONT; the dispatcher's log lines
                                                     are reported as "log ..."
    storage_workers.py outbox URL DATABASE           commit 3 events for "inv-1", dispatch, hang delivering #2
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from pymongo.asynchronous.database import AsyncDatabase

from lucid_tron.storage import (
    IdempotencyKeys,
    LeaseLost,
    Leases,
    Outbox,
    OutboxDispatcher,
    OutboxEvent,
    connect_mongo,
    in_transaction,
)

#: The idempotency lease of `claim`, short so that a test sees it expire.
CLAIM_LEASE_S = 1.0
#: How often the lease worker writes and renews: also how long a test has to kill or stop it between steps.
LEASE_STEP_S = 0.2
#: How often a dispatcher worker looks for events and, standing by, for a free lease.
DISPATCH_POLL_S = 0.05
#: The lease time of the `outbox` worker's dispatcher.
OUTBOX_LEASE_S = 1.0


def report(line: str) -> None:
    print(line, flush=True)


async def claim(db: AsyncDatabase) -> None:
    keys = IdempotencyKeys.in_database(db, service="s", lease_s=CLAIM_LEASE_S)
    await keys.begin("Pay", "request-1", {"amount_sun": 5})
    report("claimed")
    await asyncio.Event().wait()


async def lease(db: AsyncDatabase, owner: str, ttl_s: float) -> None:
    leases = Leases.in_database(db, owner=owner, ttl_s=ttl_s)
    held = await leases.acquire("job")
    while held is None:
        await asyncio.sleep(LEASE_STEP_S / 2)
        held = await leases.acquire("job")
    report(f"acquired {held.token}")
    token = held.token

    async def write(session):
        await db.job.update_one(
            {"_id": "job"}, {"$push": {"writes": {"owner": owner, "token": token}}}, upsert=True, session=session
        )

    while True:
        try:
            await leases.fenced(held, write)
            report(f"wrote {token}")
        except LeaseLost:
            report(f"write refused {token}")
            return
        try:
            held = await leases.renew(held)
            # Between steps: nothing in flight, so a test that kills or stops the worker now leaves no transaction
            # open (one would hold its documents until the server aborts it, 60 s).
            report(f"renewed {token}")
        except LeaseLost:
            # Keep going with the old lease: a worker that misses its renewal still cannot write.
            report(f"renewal refused {token}")
        await asyncio.sleep(LEASE_STEP_S)


async def dispatch(db: AsyncDatabase, owner: str, ttl_s: float, hang: tuple[str, int] | None = None) -> None:
    reports = logging.StreamHandler(sys.stdout)
    reports.setFormatter(logging.Formatter("log %(message)s"))
    dispatcher_log = logging.getLogger("lucid_tron.storage.outbox")
    dispatcher_log.addHandler(reports)
    dispatcher_log.setLevel(logging.INFO)
    resumed = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGCONT, resumed.set)

    async def deliver(event: OutboxEvent) -> None:
        await db.consumer.update_one(
            {"_id": "log"},
            {"$push": {"deliveries": {"subject": event.subject, "seq": event.seq, "owner": owner}}},
            upsert=True,
        )
        report(f"delivered {event.subject} {event.seq}")
        if (event.subject, event.seq) == hang:
            # A test stops or kills the worker here, between steps: no transaction is open (one would hold its
            # documents until the server aborts it, 60 s). SIGCONT ends the delivery.
            await resumed.wait()

    leases = Leases.in_database(db, owner=owner, ttl_s=ttl_s)
    report("ready")
    await OutboxDispatcher(Outbox.in_database(db), deliver, leases, poll_s=DISPATCH_POLL_S).run()


async def outbox(db: AsyncDatabase) -> None:
    events = Outbox.in_database(db)

    async def invoice_paid(session):
        await db.invoices.insert_one({"_id": "inv-1", "state": "paid"}, session=session)
        for kind in ("invoice.paid", "invoice.credited", "invoice.closed"):
            await events.emit(session, "inv-1", kind, {"invoice_id": "inv-1"})

    await in_transaction(db.client, invoice_paid)
    report("committed")
    await dispatch(db, "outbox-worker", OUTBOX_LEASE_S, hang=("inv-1", 2))


async def main(command: str, url: str, database: str, *args: str) -> None:
    client, db = connect_mongo(url, database, app_name=f"storage-worker-{command}")
    if command == "claim":
        await claim(db)
    elif command == "lease":
        await lease(db, args[0], float(args[1]))
    elif command == "dispatch":
        hang = (args[2], int(args[3])) if len(args) > 2 else None
        await dispatch(db, args[0], float(args[1]), hang)
    elif command == "outbox":
        await outbox(db)
    await client.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))

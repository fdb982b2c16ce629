"""Leases for single-worker jobs: one holder at a time, takeover after expiry, fencing tokens refuse a former holder.

The takeover tests run each worker as a real OS process and crash (SIGKILL) or pause (SIGSTOP) it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from integration.storage.storage_processes import Worker
from integration.storage.storage_workers import LEASE_STEP_S
from lucid_tron.storage import LeaseLost, Leases

TTL_S = 1.0
#: How long past the lease time a test waits for the takeover report before it fails.
TAKEOVER_SLACK_S = 0.5


def leases_of(mongo_db, owner: str, ttl_s: float = TTL_S) -> Leases:
    return Leases.in_database(mongo_db, owner=owner, ttl_s=ttl_s)


async def record(mongo_db, session, owner: str) -> None:
    await mongo_db.job.update_one({"_id": "job"}, {"$push": {"writes": owner}}, upsert=True, session=session)


async def test_a_held_lease_cannot_be_acquired_by_another_owner(mongo_db):
    held = await leases_of(mongo_db, "a").acquire("watcher")

    assert held is not None and held.owner == "a"
    assert await leases_of(mongo_db, "b").acquire("watcher") is None


async def test_an_expired_lease_goes_to_the_next_owner_with_a_larger_token(mongo_db):
    first = await leases_of(mongo_db, "a", ttl_s=0.1).acquire("watcher")
    await asyncio.sleep(0.15)
    second = await leases_of(mongo_db, "b").acquire("watcher")

    assert first is not None and second is not None
    assert second.token > first.token


async def test_renewal_keeps_the_lease_and_its_token(mongo_db):
    # Renewed halfway through, then checked past the first expiry: half a lease of slack either way, for a loaded
    # machine.
    leases = leases_of(mongo_db, "a", ttl_s=1.0)
    held = await leases.acquire("watcher")
    await asyncio.sleep(0.5)
    renewed = await leases.renew(held)
    await asyncio.sleep(0.75)

    assert renewed.token == held.token and renewed.expires_at > held.expires_at
    assert await leases_of(mongo_db, "b").acquire("watcher") is None


async def test_a_released_lease_can_be_taken_at_once_and_its_token_still_grows(mongo_db):
    leases = leases_of(mongo_db, "a")
    held = await leases.acquire("watcher")
    await leases.release(held)
    taken = await leases_of(mongo_db, "b").acquire("watcher")

    assert taken is not None and taken.token == held.token + 1


async def test_a_renewal_that_reaches_the_server_after_the_release_does_not_take_the_lease_back(mongo_db):
    # A renewal in flight when its holder stops can land after the release, which went over another connection.
    leases = leases_of(mongo_db, "a")
    held = await leases.acquire("watcher")
    await leases.release(held)

    with pytest.raises(LeaseLost):
        await leases.renew(held)
    assert await leases_of(mongo_db, "b").acquire("watcher") is not None


async def test_a_renewal_after_a_takeover_raises_lease_lost(mongo_db):
    stale = await leases_of(mongo_db, "a", ttl_s=0.1).acquire("watcher")
    await asyncio.sleep(0.15)
    await leases_of(mongo_db, "b").acquire("watcher")

    with pytest.raises(LeaseLost):
        await leases_of(mongo_db, "a").renew(stale)


async def test_a_fenced_write_of_the_current_holder_lands(mongo_db):
    leases = leases_of(mongo_db, "a")
    held = await leases.acquire("watcher")

    await leases.fenced(held, lambda session: record(mongo_db, session, "a"))

    assert (await mongo_db.job.find_one({"_id": "job"}))["writes"] == ["a"]


async def test_a_fenced_write_of_a_former_holder_is_refused_and_writes_nothing(mongo_db):
    former = await leases_of(mongo_db, "a", ttl_s=0.1).acquire("watcher")
    await asyncio.sleep(0.15)
    current = await leases_of(mongo_db, "b").acquire("watcher")
    await leases_of(mongo_db, "b").fenced(current, lambda session: record(mongo_db, session, "b"))

    with pytest.raises(LeaseLost):
        await leases_of(mongo_db, "a").fenced(former, lambda session: record(mongo_db, session, "a"))

    assert (await mongo_db.job.find_one({"_id": "job"}))["writes"] == ["b"]


async def test_a_takeover_during_a_fenced_transaction_refuses_its_writes(mongo_db):
    former = await leases_of(mongo_db, "a", ttl_s=0.1).acquire("watcher")
    await asyncio.sleep(0.15)
    taken_over = []

    async def write_while_taken_over(session):
        await record(mongo_db, session, "a")
        if not taken_over:  # the takeover commits after the transaction began, before it commits
            taken_over.append(await leases_of(mongo_db, "b").acquire("watcher"))

    with pytest.raises(LeaseLost):
        await leases_of(mongo_db, "a").fenced(former, write_while_taken_over)

    assert taken_over[0] is not None
    assert await mongo_db.job.find_one({"_id": "job"}) is None


async def start_holder_and_waiter(mongo_url: str, database: str) -> tuple[Worker, Worker]:
    holder = Worker("lease", mongo_url, database, "holder", str(TTL_S))
    await holder.reported("acquired 1")
    await holder.reported("wrote 1")
    waiter = Worker("lease", mongo_url, database, "waiter", str(TTL_S))
    return holder, waiter


async def test_when_the_holder_is_killed_the_other_worker_takes_over_within_the_lease_time(mongo_url, mongo_db):
    holder, waiter = await start_holder_and_waiter(mongo_url, mongo_db.name)
    try:
        await asyncio.sleep(1.0)  # the waiter is up and polling
        holder.drain()
        await holder.reported("renewed 1")
        holder.kill()
        killed = time.monotonic()
        await waiter.reported("acquired 2", timeout=TTL_S + TAKEOVER_SLACK_S)
        took_over_after = time.monotonic() - killed
        await waiter.reported("wrote 2")
    finally:
        holder.kill()
        waiter.kill()

    assert took_over_after <= TTL_S + LEASE_STEP_S  # a waiter polls every LEASE_STEP_S / 2


async def test_a_paused_holder_loses_the_lease_and_its_writes_are_refused_when_it_continues(mongo_url, mongo_db):
    holder, waiter = await start_holder_and_waiter(mongo_url, mongo_db.name)
    try:
        await asyncio.sleep(1.0)
        holder.drain()
        await holder.reported("renewed 1")
        holder.stop()
        await waiter.reported("acquired 2", timeout=TTL_S + TAKEOVER_SLACK_S)
        await waiter.reported("wrote 2")

        holder.drain()
        holder.resume()
        after_resume = await holder.reported("write refused 1", timeout=5.0)
        await waiter.reported("wrote 2")  # the new holder goes on writing
    finally:
        holder.kill()
        waiter.kill()

    assert not any(line.startswith("wrote") for line in after_resume)
    writes = (await mongo_db.job.find_one({"_id": "job"}))["writes"]
    first_of_waiter = writes.index({"owner": "waiter", "token": 2})
    assert all(write["token"] == 2 for write in writes[first_of_waiter:])


async def test_a_holder_that_died_inside_a_fenced_transaction_does_not_hold_up_the_next(mongo_db):
    # The first holder's transaction has written the job's document and the lease's, then never commits: as far as
    # the server can tell its process is gone. Both stay locked until the server ends the transaction (60 s on
    # mongod, never on SecantusDB unless asked), unless the next holder ends it, by the session the lease lists.
    dead = leases_of(mongo_db, "a", ttl_s=0.5)
    held = await dead.acquire("watcher")
    wrote, never = asyncio.Event(), asyncio.Event()

    async def dies_before_commit(session) -> None:
        await record(mongo_db, session, "a")
        await mongo_db.leases.update_one({"_id": "watcher"}, {"$set": {"fenced_at": 0}}, session=session)
        wrote.set()
        await never.wait()

    stuck = asyncio.create_task(dead.fenced(held, dies_before_commit))
    await wrote.wait()
    await asyncio.sleep(0.6)
    started = time.monotonic()
    leases = leases_of(mongo_db, "b")
    taken = await asyncio.wait_for(leases.acquire("watcher"), 10)
    assert taken is not None
    await asyncio.wait_for(leases.fenced(taken, lambda session: record(mongo_db, session, "b")), 10)
    took = time.monotonic() - started
    never.set()
    with contextlib.suppress(Exception):
        await stuck

    assert (await mongo_db.job.find_one({"_id": "job"}))["writes"] == ["b"]
    assert took < 5

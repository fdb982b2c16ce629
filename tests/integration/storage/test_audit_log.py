"""Hash-chained audit log: entries link by hash and name the caller; verification finds the first broken link."""

from __future__ import annotations

import asyncio

import pytest

from lucid_tron.storage import GENESIS_HASH, AuditLog, BrokenLink, connect_mongo, ensure_indexes
from lucid_tron.storage._audit import _entry_hash  # what a forger with write access would recompute


@pytest.fixture
async def audit(mongo_db) -> AuditLog:
    await ensure_indexes(mongo_db, AuditLog.INDEXES)
    return AuditLog(mongo_db[AuditLog.COLLECTION])


async def append_three(audit: AuditLog) -> None:
    await audit.append("spiffe://lucid/payout-router", "payout.approved", {"payout_id": "po-1", "amount_sun": 5})
    await audit.append("operator:alice", "limit.changed", {"daily_limit_sun": 10_000_000})
    await audit.append("spiffe://lucid/payout-router", "payout.sent", {"payout_id": "po-1"})


async def test_each_entry_carries_the_hash_of_the_one_before_and_the_callers_identity(audit):
    first = await audit.append("operator:alice", "limit.changed", {"daily_limit_sun": 1})
    second = await audit.append("operator:bob", "limit.changed", {"daily_limit_sun": 2})

    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)
    assert (second.seq, second.prev_hash, second.principal) == (2, first.hash, "operator:bob")


async def test_an_untouched_chain_verifies(audit):
    await append_three(audit)

    assert await audit.verify() is None


async def test_a_modified_entry_is_the_first_broken_link(mongo_db, audit):
    await append_three(audit)
    await mongo_db[AuditLog.COLLECTION].update_one({"_id": 2}, {"$set": {"details.daily_limit_sun": 99_000_000}})

    assert await audit.verify() == BrokenLink(2, "entry modified")


async def test_a_deleted_entry_is_the_first_broken_link(mongo_db, audit):
    await append_three(audit)
    await mongo_db[AuditLog.COLLECTION].delete_one({"_id": 2})

    assert await audit.verify() == BrokenLink(2, "entry missing")


async def test_reordered_entries_break_the_chain_where_the_order_changed(mongo_db, audit):
    await append_three(audit)
    entries = mongo_db[AuditLog.COLLECTION]
    second, third = await entries.find_one({"_id": 2}), await entries.find_one({"_id": 3})
    await entries.delete_many({"_id": {"$in": [2, 3]}})
    await entries.insert_many([{**third, "_id": 2}, {**second, "_id": 3}])

    assert await audit.verify() == BrokenLink(2, "does not follow the entry before it")


async def test_a_modified_entry_with_a_recomputed_hash_breaks_the_link_after_it(mongo_db, audit):
    await append_three(audit)
    entries = mongo_db[AuditLog.COLLECTION]
    forged = {**await entries.find_one({"_id": 2}), "details": {"daily_limit_sun": 99_000_000}}
    forged["hash"] = _entry_hash(
        2, forged["prev_hash"], forged["principal"], forged["action"], forged["details"], forged["at"]
    )
    await entries.replace_one({"_id": 2}, forged)

    assert await audit.verify() == BrokenLink(3, "does not follow the entry before it")


async def test_concurrent_appends_from_two_clients_do_not_fork_the_chain(mongo_url, mongo_db, audit):
    other_client, other_db = connect_mongo(mongo_url, mongo_db.name, app_name="second-writer")
    other = AuditLog(other_db[AuditLog.COLLECTION])
    try:
        await asyncio.gather(
            *(log.append(f"writer-{i}", "payout.sent", {"n": i}) for i in range(10) for log in (audit, other))
        )
    finally:
        await other_client.close()

    assert await mongo_db[AuditLog.COLLECTION].count_documents({}) == 20
    assert await audit.verify() is None

"""write_together: a transaction's writes to several collections in one round trip (MongoDB 8's bulkWrite) or, on
servers before 8.0, one command each, with the same results and errors either way.

SecantusDB speaks MongoDB 8, so the older servers' path is taken here by raising the wire version the bulk command
needs above what the server reports: the same real server answers both paths."""

from __future__ import annotations

import asyncio

import pytest
from pymongo.errors import DuplicateKeyError

from lucid_tron.storage import Insert, Update, in_transaction, write_together
from lucid_tron.storage import _bulk


@pytest.fixture(params=["bulkWrite", "one command each"])
def path(request, monkeypatch) -> str:
    if request.param == "one command each":
        monkeypatch.setattr(_bulk, "_BULK_WRITE_WIRE_VERSION", 10**6)
    return request.param


async def together(mongo_db, writes) -> list[int]:
    return await in_transaction(mongo_db.client, lambda session: write_together(mongo_db, session, writes))


async def test_writes_to_several_collections_commit_together(mongo_db, path):
    await mongo_db.counters.insert_one({"_id": "c", "n": 1})

    matched = await together(mongo_db, [
        Insert("invoices", {"_id": "inv-1"}),
        Insert("events", {"_id": "evt-1"}),
        Update("counters", {"_id": "c"}, {"$inc": {"n": 1}}),
        Update("counters", {"_id": "missing"}, {"$inc": {"n": 1}}),
    ])

    assert matched == [1, 1, 1, 0]
    assert await mongo_db.invoices.count_documents({}) == await mongo_db.events.count_documents({}) == 1
    assert (await mongo_db.counters.find_one({"_id": "c"}))["n"] == 2


async def test_a_duplicate_names_its_position_and_nothing_is_written(mongo_db, path):
    await mongo_db.events.insert_one({"_id": "evt-1"})

    with pytest.raises(DuplicateKeyError) as caught:
        await together(mongo_db, [Insert("invoices", {"_id": "inv-1"}), Insert("events", {"_id": "evt-1"})])

    assert caught.value.details["writeIndex"] == 1
    assert await mongo_db.invoices.count_documents({}) == 0


async def test_a_transaction_that_fails_after_the_writes_leaves_none_of_them(mongo_db, path):
    async def fails(session) -> None:
        await write_together(mongo_db, session, [Insert("invoices", {"_id": "inv-1"}), Insert("events", {"_id": "e"})])
        raise RuntimeError("the rest of the work failed")

    with pytest.raises(RuntimeError):
        await in_transaction(mongo_db.client, fails)

    assert await mongo_db.invoices.count_documents({}) == await mongo_db.events.count_documents({}) == 0


async def test_a_write_meeting_another_transactions_uncommitted_write_is_retried_until_it_ends(mongo_db, path):
    async with mongo_db.client.start_session() as first:
        await first.start_transaction()
        await write_together(mongo_db, first, [Update("counters", {"_id": "c"}, {"$inc": {"n": 1}}, upsert=True)])
        second = asyncio.create_task(together(mongo_db, [Update("counters", {"_id": "c"}, {"$inc": {"n": 1}})]))
        await asyncio.sleep(0.3)
        assert not second.done()
        await first.commit_transaction()

    assert await asyncio.wait_for(second, 10) == [1]
    assert (await mongo_db.counters.find_one({"_id": "c"}))["n"] == 2

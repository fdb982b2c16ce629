"""MongoDB through lucid_tron.storage, against a real Mongo-wire server (SecantusDB)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from lucid_tron.storage import DURABLE_WRITES, connect_mongo, ensure_indexes, mongo_ping

INVOICE_INDEXES = {
    "invoices": [
        IndexModel([("deposit_address", ASCENDING)], name="deposit_address_unique", unique=True),
        IndexModel([("created_at", ASCENDING)], name="created_at"),
    ],
}


async def test_a_document_inserted_is_found_by_its_fields(mongo_db):
    await mongo_db.invoices.insert_one({"_id": "inv-1", "amount_sun": 1_500_000, "deposit_address": "TA"})

    found = await mongo_db.invoices.find_one({"deposit_address": "TA"})

    assert found == {"_id": "inv-1", "amount_sun": 1_500_000, "deposit_address": "TA"}


async def test_datetimes_come_back_timezone_aware_in_utc(mongo_db):
    created_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    await mongo_db.invoices.insert_one({"_id": "inv-1", "created_at": created_at})

    found = await mongo_db.invoices.find_one({"_id": "inv-1"})

    assert found["created_at"] == created_at
    assert found["created_at"].tzinfo is not None


async def test_a_unique_index_rejects_a_second_document_with_E11000(mongo_db):
    await ensure_indexes(mongo_db, INVOICE_INDEXES)
    await mongo_db.invoices.insert_one({"_id": "inv-1", "deposit_address": "TA"})

    with pytest.raises(DuplicateKeyError) as caught:
        await mongo_db.invoices.insert_one({"_id": "inv-2", "deposit_address": "TA"})

    assert caught.value.code == 11000


async def test_ensure_indexes_twice_leaves_the_same_indexes(mongo_db):
    await ensure_indexes(mongo_db, INVOICE_INDEXES)
    first = await mongo_db.invoices.index_information()

    await ensure_indexes(mongo_db, INVOICE_INDEXES)

    assert await mongo_db.invoices.index_information() == first
    assert set(first) == {"_id_", "deposit_address_unique", "created_at"}


async def test_a_transaction_commits_writes_to_two_collections_together(mongo_db):
    # Collections must exist before a transaction writes to them on MongoDB 4.4 (the Pi 4 floor).
    await mongo_db.create_collection("payouts")
    await mongo_db.create_collection("limits")
    client = mongo_db.client

    async with client.start_session() as session:
        async with await session.start_transaction():
            await mongo_db.payouts.insert_one({"_id": "p-1", "amount_sun": 7}, session=session)
            await mongo_db.limits.update_one(
                {"_id": "daily"}, {"$inc": {"spent_sun": 7}}, upsert=True, session=session
            )

    assert await mongo_db.payouts.find_one({"_id": "p-1"}) == {"_id": "p-1", "amount_sun": 7}
    assert await mongo_db.limits.find_one({"_id": "daily"}) == {"_id": "daily", "spent_sun": 7}


async def test_a_durable_transaction_commits(mongo_db):
    await mongo_db.create_collection("payouts")

    async with mongo_db.client.start_session() as session:
        async with await session.start_transaction(write_concern=DURABLE_WRITES):
            await mongo_db.payouts.insert_one({"_id": "p-1"}, session=session)

    assert await mongo_db.payouts.count_documents({}) == 1


async def test_a_transaction_that_raises_writes_nothing(mongo_db):
    await mongo_db.create_collection("payouts")
    client = mongo_db.client

    with pytest.raises(RuntimeError):
        async with client.start_session() as session:
            async with await session.start_transaction():
                await mongo_db.payouts.insert_one({"_id": "p-1"}, session=session)
                raise RuntimeError("crash before commit")

    assert await mongo_db.payouts.count_documents({}) == 0


async def test_mongo_ping_is_true_while_the_server_answers(mongo_client):
    assert await mongo_ping(mongo_client) is True


async def test_connect_mongo_takes_the_database_from_the_url_when_none_is_given(mongo_server):
    client, db = connect_mongo(
        f"mongodb://{mongo_server.host}:{mongo_server.port}/ledger?replicaSet=secantus", app_name="test"
    )
    try:
        assert db.name == "ledger"
        assert client.options.pool_options.metadata["application"] == {"name": "test"}
    finally:
        await client.close()

"""MongoStore: indexes ensured at start (or at the first successful ping), every query bounded by the deadline."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import pytest
from pymongo import IndexModel

from integration.storage.storage_processes import paused
from lucid_tron.context import deadlines
from lucid_tron.errors import DeadlineExceeded, Unavailable
from lucid_tron.storage import DURABLE_WRITES, MONGO_UNAVAILABLE, MongoSettings, MongoStore
from lucid_tron.testing import MongoServer, free_port


class InvoiceStore(MongoStore):
    indexes = {"invoices": [IndexModel("deposit_address", unique=True, name="by_address")]}
    query_timeout_s = 0.3


def invoice_store(url: str, database: str | None = None) -> InvoiceStore:
    settings = MongoSettings(mongo_url=url, mongo_database=database)
    return InvoiceStore(settings, app_name="test", default_database=f"test_{uuid.uuid4().hex[:12]}")


@pytest.fixture
async def store(mongo_url: str) -> AsyncIterator[InvoiceStore]:
    opened = invoice_store(mongo_url)
    await opened.open()
    yield opened
    await opened.db.client.drop_database(opened.db.name)
    await opened.close()


@pytest.fixture
async def store_on_pausable(pausable_mongo: MongoServer) -> AsyncIterator[InvoiceStore]:
    opened = invoice_store(pausable_mongo.url)
    await opened.open()
    await opened.collection("invoices").insert_one({"deposit_address": "TA"})  # a pooled connection to hang on
    yield opened
    await opened.close()


async def index_names(store: MongoStore, collection: str) -> set[str]:
    return {index["name"] async for index in await store.db[collection].list_indexes()}


async def test_open_ensures_the_declared_indexes(store):
    assert "by_address" in await index_names(store, "invoices")
    assert await store.ping() is True


async def test_the_database_is_the_services_own_unless_mongo_database_names_one(mongo_url):
    chosen = f"operator_{uuid.uuid4().hex[:12]}"
    own, named = invoice_store(mongo_url), invoice_store(mongo_url, chosen)
    await own.open()
    await named.open()
    try:
        assert own.db.name.startswith("test_")
        assert named.db.name == chosen
    finally:
        for store in (own, named):
            await store.db.client.drop_database(store.db.name)
            await store.close()


async def test_open_succeeds_with_mongo_down_and_the_first_successful_ping_ensures_the_indexes():
    port = free_port()
    store = invoice_store(f"mongodb://127.0.0.1:{port}/?replicaSet=secantus")
    began = time.monotonic()
    await store.open()
    try:
        assert time.monotonic() - began < 2 * InvoiceStore.ping_timeout_s
        assert await store.ping() is False

        async with MongoServer(port=port):
            assert await store.ping() is True
            assert "by_address" in await index_names(store, "invoices")
    finally:
        await store.close()


async def test_close_is_safe_when_open_never_ran(mongo_url):
    store = invoice_store(mongo_url)
    await store.close()
    assert await store.ping() is False


async def test_a_durable_collection_acknowledges_only_journaled_majority_writes(store):
    assert store.collection("payouts", durable=True).write_concern == DURABLE_WRITES
    assert store.collection("invoices").write_concern != DURABLE_WRITES


async def test_a_query_on_a_hung_mongo_answers_unavailable_within_the_callers_deadline(
    store_on_pausable, pausable_mongo
):
    with paused(pausable_mongo), deadlines.within(0.5):
        began = time.monotonic()
        with pytest.raises(Unavailable) as caught, store_on_pausable.bounded():
            await store_on_pausable.collection("invoices").find_one({"deposit_address": "TA"})
        elapsed = time.monotonic() - began

    assert caught.value.reason == MONGO_UNAVAILABLE
    assert elapsed < 0.6


async def test_without_a_deadline_a_query_on_a_hung_mongo_is_bounded_by_the_stores_default(
    store_on_pausable, pausable_mongo
):
    with paused(pausable_mongo):
        began = time.monotonic()
        with pytest.raises(Unavailable), store_on_pausable.bounded():
            await store_on_pausable.collection("invoices").find_one({"deposit_address": "TA"})
        elapsed = time.monotonic() - began

    assert InvoiceStore.query_timeout_s <= elapsed < InvoiceStore.query_timeout_s + 0.3


async def test_the_store_answers_again_once_a_hung_mongo_continues(store_on_pausable, pausable_mongo):
    with paused(pausable_mongo), pytest.raises(Unavailable), store_on_pausable.bounded():
        await store_on_pausable.collection("invoices").find_one({})

    with store_on_pausable.bounded():
        assert await store_on_pausable.collection("invoices").count_documents({}) == 1


async def test_ping_of_a_hung_mongo_is_false_within_its_timeout(store_on_pausable, pausable_mongo):
    with paused(pausable_mongo):
        began = time.monotonic()
        assert await store_on_pausable.ping() is False
        assert time.monotonic() - began < InvoiceStore.ping_timeout_s + 0.3


async def test_a_spent_deadline_refuses_to_start_a_query(store):
    with deadlines.within(0.0), pytest.raises(DeadlineExceeded), store.bounded():
        await store.collection("invoices").find_one({})

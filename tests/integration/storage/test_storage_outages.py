"""A storage outage becomes Unavailable within seconds, and clients recover when the server is back.

Each test starts servers of its own: it kills them, which the session servers must survive.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from lucid_tron.errors import Unavailable
from lucid_tron.storage import (
    DURABLE_WRITES,
    MONGO_UNAVAILABLE,
    REDIS_UNAVAILABLE,
    connect_mongo,
    connect_redis,
    map_storage_errors,
    mongo_ping,
    redis_ping,
)
from lucid_tron.testing import MongoServer, RedisServer

# Fail-fast bounds, not performance figures: the default server selection timeout is 2 s; a hang would
# last until pytest's 120 s timeout.
MONGO_OUTAGE_BOUND_S = 5.0
REDIS_OUTAGE_BOUND_S = 1.0


@pytest.fixture
async def mongo_of_its_own():
    async with MongoServer() as server:
        yield server


@pytest.fixture
async def redis_of_its_own():
    async with RedisServer() as server:
        yield server


async def test_an_operation_on_a_killed_mongo_raises_unavailable_within_seconds(mongo_of_its_own):
    client, db = connect_mongo(mongo_of_its_own.url, "ledger", app_name="test")
    try:
        await db.invoices.insert_one({"_id": "inv-1"})
        mongo_of_its_own.kill()

        began = time.monotonic()
        with pytest.raises(Unavailable) as caught:
            with map_storage_errors():
                await db.invoices.find_one({"_id": "inv-1"})
        elapsed = time.monotonic() - began

        assert caught.value.reason == MONGO_UNAVAILABLE
        assert elapsed < MONGO_OUTAGE_BOUND_S
    finally:
        await client.close()


async def test_a_write_to_a_killed_mongo_raises_unavailable_within_seconds(mongo_of_its_own):
    client, db = connect_mongo(mongo_of_its_own.url, "ledger", app_name="test")

    @map_storage_errors
    async def record_invoice(invoice_id: str) -> None:
        await db.invoices.insert_one({"_id": invoice_id})

    try:
        await record_invoice("inv-1")
        mongo_of_its_own.kill()

        began = time.monotonic()
        with pytest.raises(Unavailable) as caught:
            await record_invoice("inv-2")

        assert caught.value.reason == MONGO_UNAVAILABLE
        assert time.monotonic() - began < MONGO_OUTAGE_BOUND_S
    finally:
        await client.close()


async def test_mongo_ping_is_false_within_its_timeout_when_mongo_is_down(mongo_of_its_own):
    client, _ = connect_mongo(mongo_of_its_own.url, "ledger", app_name="test")
    try:
        mongo_of_its_own.kill()

        began = time.monotonic()
        assert await mongo_ping(client, timeout_s=0.5) is False
        assert time.monotonic() - began < MONGO_OUTAGE_BOUND_S
    finally:
        await client.close()


async def test_a_mongo_client_works_again_after_the_server_restarts(mongo_of_its_own):
    client, db = connect_mongo(mongo_of_its_own.url, "ledger", app_name="test")
    try:
        await db.invoices.insert_one({"_id": "inv-1"})
        mongo_of_its_own.kill()
        with pytest.raises(Unavailable), map_storage_errors():
            await db.invoices.find_one({"_id": "inv-1"})

        await asyncio.to_thread(mongo_of_its_own.restart)

        await db.invoices.insert_one({"_id": "inv-2"})
        assert await db.invoices.find_one({"_id": "inv-2"}) == {"_id": "inv-2"}
    finally:
        await client.close()


async def test_a_durable_write_survives_a_mongo_crash_right_after_its_reply(tmp_path):
    async with MongoServer(tmp_path / "db") as server:
        client, db = connect_mongo(server.url, "ledger", app_name="test")
        try:
            payouts = db.get_collection("payouts", write_concern=DURABLE_WRITES)
            await payouts.insert_one({"_id": "p-1", "signed_tx": b"..."})

            server.kill()
            await asyncio.to_thread(server.start)

            assert await payouts.find_one({"_id": "p-1"}) == {"_id": "p-1", "signed_tx": b"..."}
        finally:
            await client.close()


async def test_a_command_on_a_killed_redis_raises_unavailable_at_once(redis_of_its_own):
    client = connect_redis(redis_of_its_own.url, app_name="test")
    try:
        await client.set("k", b"v")
        redis_of_its_own.kill()

        began = time.monotonic()
        with pytest.raises(Unavailable) as caught:
            async with map_storage_errors():
                await client.get("k")

        assert caught.value.reason == REDIS_UNAVAILABLE
        assert time.monotonic() - began < REDIS_OUTAGE_BOUND_S
    finally:
        await client.aclose()


async def test_redis_ping_is_false_when_redis_is_down(redis_of_its_own):
    client = connect_redis(redis_of_its_own.url, app_name="test")
    try:
        redis_of_its_own.kill()

        assert await redis_ping(client) is False
    finally:
        await client.aclose()


async def test_a_redis_client_works_again_after_the_server_restarts(redis_of_its_own):
    client = connect_redis(redis_of_its_own.url, app_name="test")
    try:
        await client.set("k", b"before")
        redis_of_its_own.kill()
        with pytest.raises(Unavailable), map_storage_errors():
            await client.get("k")

        redis_of_its_own.restart()

        # The restarted server kept nothing (no persistence), and the old client reconnects by itself.
        assert await client.get("k") is None
        await client.set("k", b"after")
        assert await client.get("k") == b"after"
    finally:
        await client.aclose()


async def test_a_pooled_redis_connection_broken_by_a_restart_is_replaced_transparently(redis_of_its_own):
    client = connect_redis(redis_of_its_own.url, app_name="test")
    try:
        await client.set("k", b"v")  # leaves an open connection in the pool

        redis_of_its_own.restart()

        assert await client.ping() is True
    finally:
        await client.aclose()

"""map_storage_errors turns only outages into Unavailable; every other storage error passes through."""

from __future__ import annotations

import pytest
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError, ServerSelectionTimeoutError
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from lucid_tron.errors import Unavailable
from lucid_tron.storage import (
    MONGO_UNAVAILABLE,
    REDIS_UNAVAILABLE,
    as_unavailable,
    connect_mongo,
    ensure_indexes,
    map_storage_errors,
)
from lucid_tron.testing import free_port


async def test_a_duplicate_key_is_not_an_outage(mongo_db):
    await ensure_indexes(mongo_db, {"invoices": [IndexModel("deposit_address", unique=True)]})
    await mongo_db.invoices.insert_one({"deposit_address": "TA"})

    with pytest.raises(DuplicateKeyError), map_storage_errors():
        await mongo_db.invoices.insert_one({"deposit_address": "TA"})


async def test_a_redis_command_error_is_not_an_outage(redis_client):
    await redis_client.set("counter", b"not a number")

    with pytest.raises(ResponseError), map_storage_errors():
        await redis_client.incr("counter")


async def test_unavailable_keeps_the_driver_error_as_its_cause_and_hides_the_address():
    port = free_port()
    client, db = connect_mongo(
        f"mongodb://127.0.0.1:{port}/?directConnection=true",
        "ledger",
        app_name="test",
        server_selection_timeout_ms=200,
    )
    try:
        with pytest.raises(Unavailable) as caught, map_storage_errors():
            await db.invoices.find_one({})
    finally:
        await client.close()

    assert caught.value.reason == MONGO_UNAVAILABLE
    assert isinstance(caught.value.__cause__, ServerSelectionTimeoutError)
    assert str(port) not in caught.value.message


async def test_ensure_indexes_raises_unavailable_when_mongo_is_down():
    client, db = connect_mongo(
        f"mongodb://127.0.0.1:{free_port()}/?directConnection=true",
        "ledger",
        app_name="test",
        server_selection_timeout_ms=200,
    )
    try:
        with pytest.raises(Unavailable):
            await ensure_indexes(db, {"invoices": [IndexModel("deposit_address")]})
    finally:
        await client.close()


def test_the_decorator_maps_a_plain_function_too():
    nothing_listens = Redis(host="127.0.0.1", port=free_port(), retry=None)

    @map_storage_errors
    def read_cache() -> bytes | None:
        return nothing_listens.get("k")

    with pytest.raises(Unavailable) as caught:
        read_cache()

    assert caught.value.reason == REDIS_UNAVAILABLE
    assert isinstance(caught.value.__cause__, RedisConnectionError)


def test_an_error_that_no_driver_raised_is_left_alone():
    assert as_unavailable(ValueError("bad input")) is None
    with pytest.raises(ValueError), map_storage_errors():
        raise ValueError("bad input")

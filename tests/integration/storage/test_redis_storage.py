"""Redis through lucid_tron.storage, against a real redis-server."""

from __future__ import annotations

from lucid_tron.storage import redis_ping


async def test_a_value_set_is_read_back(redis_client):
    await redis_client.set("relay:head", b"123456", ex=30)

    assert await redis_client.get("relay:head") == b"123456"


async def test_each_test_starts_with_an_empty_database(redis_client):
    assert await redis_client.dbsize() == 0


async def test_the_connection_carries_the_app_name(redis_client):
    assert await redis_client.client_getname() == "lucid-tron-tests"


async def test_redis_ping_is_true_while_the_server_answers(redis_client):
    assert await redis_ping(redis_client) is True

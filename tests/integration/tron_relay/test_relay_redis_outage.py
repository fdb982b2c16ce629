"""Redis down: the relay keeps answering (uncached, still coalesced, once its in-process L1 has aged out), says so
in its log and under the health service "redis", stays SERVING itself, and caches again when Redis is back.

Each test runs a redis-server of its own, since it kills it.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from grpc_health.v1 import health_pb2

from fixtures.transactions import requests_to
from integration.tron_relay.tron_relay_kit import start_relay
from lucid.tron.v1 import relay_pb2 as pb
from lucid_tron.services.tron_relay.cache import CachePolicy
from lucid_tron.testing import RedisServer

SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
CHECK_INTERVAL_S = 0.1


@pytest.fixture
async def redis_of_its_own():
    async with RedisServer() as server:
        yield server


async def until(condition, timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not await condition():
            await asyncio.sleep(0.02)


async def test_redis_killed_mid_test_the_relay_still_answers_and_reports_the_cache_down(
    devnet, devnet_accounts, redis_of_its_own, caplog
):
    request = pb.RelayServiceGetAccountRequest(address=devnet_accounts[0].address)
    async with start_relay(devnet, redis_of_its_own.url, redis_check_interval_s=CHECK_INTERVAL_S) as relay:
        await relay.stub.GetAccount(request)
        assert (await relay.stub.GetAccount(request)).cache.from_cache
        assert await relay.redis_health() == SERVING

        redis_of_its_own.kill()
        # What the relay read from Redis before it went stays in its in-process L1 for up to local_s.
        await asyncio.sleep(CachePolicy().local_s + 0.05)
        with caplog.at_level(logging.WARNING, logger="lucid_tron.services.tron_relay.store"):
            answers = [await relay.stub.GetAccount(request, timeout=2) for _ in range(3)]
            await until(lambda: _is(relay.redis_health(), NOT_SERVING))

        assert all(a.account.balance_sun > 0 and not a.cache.from_cache for a in answers)
        assert await relay.health() == SERVING
        assert any("Redis is down" in record.getMessage() for record in caplog.records)


async def test_with_redis_down_concurrent_reads_are_still_coalesced(devnet, devnet_accounts, redis_of_its_own):
    async with start_relay(devnet, redis_of_its_own.url, redis_check_interval_s=CHECK_INTERVAL_S) as relay:
        redis_of_its_own.kill()
        devnet.faults.add(latency_ms=300, paths=("/walletsolidity/getaccount",))
        fetches = requests_to(devnet, "/walletsolidity/getaccount")
        request = pb.RelayServiceGetAccountRequest(address=devnet_accounts[0].address)

        answers = await asyncio.gather(*(relay.stub.GetAccount(request, timeout=3) for _ in range(10)))

    assert fetches.matched == 1 and all(a.account.activated for a in answers)


async def test_when_redis_comes_back_the_relay_caches_again(devnet, devnet_accounts, redis_of_its_own):
    request = pb.RelayServiceGetAccountRequest(address=devnet_accounts[0].address)
    async with start_relay(devnet, redis_of_its_own.url, redis_check_interval_s=CHECK_INTERVAL_S) as relay:
        redis_of_its_own.kill()
        await relay.stub.GetAccount(request)
        await until(lambda: _is(relay.redis_health(), NOT_SERVING))

        redis_of_its_own.start()
        await until(lambda: _is(relay.redis_health(), SERVING))
        await relay.stub.GetAccount(request)
        again = await relay.stub.GetAccount(request)

    assert again.cache.from_cache


async def test_the_relay_starts_and_serves_with_redis_down_from_the_start(devnet, devnet_accounts, redis_of_its_own):
    url = redis_of_its_own.url
    redis_of_its_own.kill()
    async with start_relay(devnet, url, redis_check_interval_s=CHECK_INTERVAL_S) as relay:
        answer = await relay.stub.GetAccount(pb.RelayServiceGetAccountRequest(address=devnet_accounts[0].address))
        assert await relay.health() == SERVING and await relay.redis_health() == NOT_SERVING

    assert answer.account.activated and not answer.cache.from_cache


async def _is(status, expected: int) -> bool:
    return await status == expected

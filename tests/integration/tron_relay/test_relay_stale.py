"""TronGrid down, throttled or slow: the relay serves what it has, marked stale with its age, refreshes in the
background, and answers UNAVAILABLE within the deadline only when nothing is cached."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest

from fixtures.rpc_errors import error_reason
from fixtures.transactions import requests_to
from integration.tron_relay.tron_relay_kit import age_s, seconds, start_relay
from lucid.tron.v1 import common_pb2
from lucid.tron.v1 import relay_pb2 as pb

DEADLINE_S = 1.5
# A caller with something cached waits this long for a refresh before it is served the cached answer.
REFRESH_WAIT_S = 0.3


@pytest.fixture
async def quick_relay(devnet, relay_redis_url):
    async with start_relay(devnet, relay_redis_url, refresh_wait_s=REFRESH_WAIT_S) as relay:
        yield relay


def outdated(finality: int = common_pb2.FINALITY_HEAD) -> pb.RelayServiceGetNowBlockRequest:
    """A head-block request that accepts nothing older than a millisecond: every cached answer is too old."""
    return pb.RelayServiceGetNowBlockRequest(finality=finality, max_age=seconds(0.001))


@pytest.mark.parametrize("fault", [{"status": 503}, {"status": 500}, {"status": 429}, {"drop": 1.0}])
async def test_when_trongrid_fails_the_cached_answer_is_served_stale_with_its_age(quick_relay, devnet, fault):
    fresh = await quick_relay.stub.GetNowBlock(pb.RelayServiceGetNowBlockRequest(finality=common_pb2.FINALITY_HEAD))
    devnet.produce_block()
    devnet.faults.add(**fault)
    await asyncio.sleep(0.05)

    began = time.monotonic()
    answer = await quick_relay.stub.GetNowBlock(outdated(), timeout=DEADLINE_S)

    assert answer.block == fresh.block  # the last value it had, not the new head it cannot see
    assert (answer.cache.from_cache, answer.cache.stale) == (True, True) and age_s(answer.cache) >= 0.05
    assert time.monotonic() - began < DEADLINE_S


async def test_when_trongrid_is_slow_the_stale_answer_comes_after_the_refresh_wait_and_the_refresh_lands_later(
    quick_relay, devnet
):
    await quick_relay.stub.GetNowBlock(pb.RelayServiceGetNowBlockRequest(finality=common_pb2.FINALITY_HEAD))
    new_head = devnet.produce_block()
    devnet.faults.add(latency_ms=700, count=1)

    began = time.monotonic()
    stale = await quick_relay.stub.GetNowBlock(outdated(), timeout=DEADLINE_S)
    waited = time.monotonic() - began
    await asyncio.sleep(0.7)  # the background refresh lands
    refreshed = await quick_relay.stub.GetNowBlock(pb.RelayServiceGetNowBlockRequest(finality=common_pb2.FINALITY_HEAD))

    assert stale.cache.stale and REFRESH_WAIT_S <= waited < 0.7
    assert refreshed.block.number == new_head.number and refreshed.cache.from_cache and not refreshed.cache.stale


async def test_a_stale_answer_comes_before_a_deadline_shorter_than_the_refresh_wait(devnet, relay_redis_url):
    async with start_relay(devnet, relay_redis_url, refresh_wait_s=10) as relay:
        await relay.stub.GetNowBlock(pb.RelayServiceGetNowBlockRequest())
        devnet.faults.add(latency_ms=1_500)

        began = time.monotonic()
        answer = await relay.stub.GetNowBlock(outdated(common_pb2.FINALITY_SOLIDIFIED), timeout=0.5)

    assert answer.cache.stale and time.monotonic() - began < 0.5


async def test_with_nothing_cached_a_failing_trongrid_is_unavailable_within_the_deadline(
    quick_relay, devnet, devnet_accounts
):
    devnet.faults.add(status=503)
    began = time.monotonic()

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        request = pb.RelayServiceGetAccountRequest(address=devnet_accounts[0].address)
        await quick_relay.stub.GetAccount(request, timeout=DEADLINE_S)

    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE and time.monotonic() - began < DEADLINE_S


async def test_with_nothing_cached_a_slow_trongrid_is_unavailable_before_the_deadline(quick_relay, devnet):
    devnet.faults.add(latency_ms=2_000)
    began = time.monotonic()

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await quick_relay.stub.GetNowBlock(pb.RelayServiceGetNowBlockRequest(), timeout=DEADLINE_S)

    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE and error_reason(raised.value) == "TRONGRID_TIMEOUT"
    assert time.monotonic() - began < DEADLINE_S


async def test_with_the_breaker_open_stale_answers_come_at_once_without_a_request(quick_relay, devnet):
    await quick_relay.stub.GetNowBlock(pb.RelayServiceGetNowBlockRequest(finality=common_pb2.FINALITY_HEAD))
    devnet.faults.add(status=503)
    for _ in range(3):  # each refresh makes up to 4 attempts; 5 failures in a row open the breaker
        await quick_relay.stub.GetNowBlock(outdated(), timeout=DEADLINE_S)
        await asyncio.sleep(REFRESH_WAIT_S * 3)  # let the background refresh finish failing
    fetches = requests_to(devnet, "/wallet/getnowblock")

    began = time.monotonic()
    answer = await quick_relay.stub.GetNowBlock(outdated(), timeout=DEADLINE_S)

    assert answer.cache.stale and time.monotonic() - began < 0.2 and fetches.matched == 0

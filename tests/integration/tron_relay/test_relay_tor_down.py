"""Tor down (hence TronGrid out of reach): the relay stays SERVING, reports "tor" NOT_SERVING, answers what it has
cached marked stale, and UNAVAILABLE only for what it has not; nothing leaves the host directly."""

from __future__ import annotations

import time

import grpc
import pytest
from grpc_health.v1 import health_pb2

from fixtures.transactions import requests_to
from integration.tron_relay.tron_relay_kit import seconds, start_relay
from lucid.tron.v1 import relay_pb2 as pb
from lucid_tron.testing import free_port

SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


@pytest.fixture
def tor_down() -> dict[str, object]:
    """Tor's settings: required (the default), its SOCKS and control ports loopback ports nothing listens on."""
    return {
        "use_tor_for_external_calls": True,
        "tor_proxy_host": "127.0.0.1",
        "tor_proxy_socks_port": free_port(),
        "tor_proxy_control_port": free_port(),
    }


async def test_with_tor_down_the_relay_serves_and_reports_tor_under_its_own_name(devnet, relay_redis_url, tor_down):
    async with start_relay(devnet, relay_redis_url, **tor_down) as relay:
        assert (await relay.health(), await relay.tor_health(), await relay.redis_health()) == (
            SERVING, NOT_SERVING, SERVING
        )


async def test_with_tor_down_and_nothing_cached_reads_are_unavailable_within_the_deadline_and_nothing_goes_out(
    devnet, relay_redis_url, tor_down
):
    everything = devnet.faults.add()
    async with start_relay(devnet, relay_redis_url, **tor_down) as relay:
        began = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await relay.stub.GetNowBlock(pb.RelayServiceGetNowBlockRequest(), timeout=2)
        elapsed = time.monotonic() - began

    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE and elapsed < 2
    assert everything.matched == 0


async def test_with_tor_down_what_another_relay_cached_is_served_stale(
    devnet, relay_redis_url, tor_down, devnet_accounts
):
    request = pb.RelayServiceGetAccountRequest(address=devnet_accounts[0].address)
    async with start_relay(devnet, relay_redis_url) as healthy:
        cached = await healthy.stub.GetAccount(request)
    fetches = requests_to(devnet, "/walletsolidity/getaccount")

    async with start_relay(devnet, relay_redis_url, **tor_down) as cut_off:
        request.max_age.CopyFrom(seconds(0.000001))
        answer = await cut_off.stub.GetAccount(request, timeout=2)

    assert answer.account == cached.account and answer.cache.stale and answer.cache.from_cache
    assert fetches.matched == 0

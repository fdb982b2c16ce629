"""A tron-relay over gRPC in front of a fresh devnet (manual blocks), caching in the session's redis-server.

The relay uses the logical database that `redis_client` flushes before and after each test, so no test sees
another's entries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fixtures.servers import REDIS_TEST_DB
from integration.tron_relay.tron_relay_kit import RunningRelay, start_relay
from lucid_tron.devnet import Devnet


@pytest.fixture
def relay_redis_url(redis_server, redis_client) -> str:
    return redis_server.url_for_db(REDIS_TEST_DB)


@pytest.fixture
async def relay(devnet: Devnet, relay_redis_url: str) -> AsyncIterator[RunningRelay]:
    async with start_relay(devnet, relay_redis_url) as running:
        yield running

"""usdt-manager with its whole chain side per test: a fresh devnet (manual blocks), tron-client, tron-relay (caching
in the logical Redis database that `redis_client` flushes around each test), wallet-manager with a funded wallet,
on a SecantusDB of this module's own (a database per service and test)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from tronpy import AsyncTron
from tronpy.providers.async_http import AsyncHTTPProvider

from fixtures.servers import REDIS_TEST_DB
from integration.usdt_manager.usdt_kit import UsdtStack, usdt_stack
from lucid_tron.devnet import Devnet
from lucid_tron.testing import MongoServer


@pytest.fixture(scope="module")
def mongo_url() -> Iterator[str]:
    with MongoServer() as server:
        yield server.url


@pytest.fixture
def chain_redis_url(redis_server, redis_client) -> str:
    return redis_server.url_for_db(REDIS_TEST_DB)


@pytest.fixture
async def stack(devnet: Devnet, mongo_url: str, chain_redis_url: str, tmp_path: Path) -> AsyncIterator[UsdtStack]:
    async with usdt_stack(devnet, mongo_url, chain_redis_url, tmp_path) as running:
        yield running


@pytest.fixture
async def tron(devnet: Devnet) -> AsyncIterator[AsyncTron]:
    """tronpy, unmodified, on the same devnet: the chain side seen by an independent client."""
    # No "trongrid" in devnet's URL, so tronpy sends no API key of its own (notes: tronpy pitfalls).
    client = AsyncTron(AsyncHTTPProvider(devnet.url, api_key=None))
    yield client
    await client.close()

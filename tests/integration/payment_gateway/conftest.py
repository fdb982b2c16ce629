"""A payment-gateway with its wallet-manager per test, on a SecantusDB of this module's own (a database per test),
and the session's Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from integration.payment_gateway.gateway_kit import Gateway, gateway
from lucid_tron.testing import MongoServer


@pytest.fixture(scope="module")
def mongo_url() -> Iterator[str]:
    with MongoServer() as server:
        yield server.url


@pytest.fixture
async def running(mongo_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[Gateway]:
    async with gateway(mongo_url, redis_url, tmp_path) as served:
        yield served

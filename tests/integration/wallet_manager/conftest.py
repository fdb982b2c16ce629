"""A wallet-manager served over gRPC on a free loopback port, on a SecantusDB of this test module's own (a database
per test): the wallet tests write tens of thousands of durable documents, and SecantusDB slows down after ~10,000
retryable writes, so they do not share the session's server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from integration.wallet_manager.wallet_kit import Running, wallet_manager
from lucid_tron.testing import MongoServer


@pytest.fixture(scope="module")
def mongo_url() -> Iterator[str]:
    with MongoServer() as server:
        yield server.url


@pytest.fixture
async def running(mongo_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    async with wallet_manager(mongo_url, tmp_path) as served:
        yield served

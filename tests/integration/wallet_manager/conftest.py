"""A wallet-manager served over gRPC on a free loopback port, on the session's SecantusDB (a database of its own)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from integration.wallet_manager.wallet_kit import Running, wallet_manager


@pytest.fixture
async def running(mongo_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    async with wallet_manager(mongo_url, tmp_path) as served:
        yield served

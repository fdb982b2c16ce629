"""A webhook service per test (its own database on the session's SecantusDB)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from integration.webhooks.webhook_kit import Hub, webhook_service


@pytest.fixture
async def hub(mongo_url: str) -> AsyncIterator[Hub]:
    async with webhook_service(mongo_url) as served:
        yield served

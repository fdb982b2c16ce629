"""A webhook service per test (its own database on the session's SecantusDB), its secrets sealed under a key of
its own, as a deployment seals them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from integration.webhooks.webhook_kit import Hub, webhook_service
from lucid_tron.webhooks import SecretSealer


@pytest.fixture
async def hub(mongo_url: str) -> AsyncIterator[Hub]:
    async with webhook_service(mongo_url, SecretSealer(os.urandom(32))) as served:
        yield served

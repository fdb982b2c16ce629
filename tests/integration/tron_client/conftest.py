"""A tron-client served over gRPC on a free loopback port, in front of a fresh devnet in manual mode."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from integration.tron_client.tron_client_kit import RunningClient, start_tron_client
from lucid_tron.devnet import Devnet


@pytest.fixture
async def tron_client(devnet: Devnet) -> AsyncIterator[RunningClient]:
    async with start_tron_client(devnet) as running:
        yield running

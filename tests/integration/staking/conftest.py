"""staking's energy plans with their whole chain side per test: a fresh devnet (manual blocks), tron-client,
wallet-manager with a staked staking wallet, on a SecantusDB of this module's own (a database per service and test)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from integration.staking.energy_kit import EnergyStack, energy_stack
from lucid_tron.devnet import Devnet
from lucid_tron.testing import MongoServer


@pytest.fixture(scope="module")
def mongo_url() -> Iterator[str]:
    with MongoServer() as server:
        yield server.url


@pytest.fixture
async def stack(devnet: Devnet, mongo_url: str, tmp_path: Path) -> AsyncIterator[EnergyStack]:
    async with energy_stack(devnet, mongo_url, tmp_path) as running:
        yield running

"""staking's energy plans with their whole chain side per test: tron-client and wallet-manager with a staked staking
wallet, on the devnet (manual blocks) and the SecantusDB of tests/integration/staking (a database per service and
test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from integration.staking.energy_kit import EnergyStack, energy_stack
from lucid_tron.devnet import Devnet


@pytest.fixture
async def stack(devnet: Devnet, mongo_url: str, tmp_path: Path) -> AsyncIterator[EnergyStack]:
    async with energy_stack(devnet, mongo_url, tmp_path) as running:
        yield running

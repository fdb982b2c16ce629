"""staking with its chain side per test: a fresh devnet (manual blocks, unstakes waiting UNFREEZE_DELAY_S),
tron-client and wallet-manager with a funded wallet, on a SecantusDB of this module's own (a database per service and
test)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from integration.staking.staking_kit import UNFREEZE_DELAY_S, StakingStack, staking_stack
from lucid_tron.devnet import Devnet
from lucid_tron.testing import MongoServer


@pytest.fixture(scope="module")
def mongo_url() -> Iterator[str]:
    with MongoServer() as server:
        yield server.url


@pytest.fixture
async def devnet(start_devnet) -> AsyncIterator[Devnet]:
    async with start_devnet(block_interval=0, unfreeze_delay_s=UNFREEZE_DELAY_S) as running:
        yield running


@pytest.fixture
async def stack(devnet: Devnet, mongo_url: str, tmp_path: Path) -> AsyncIterator[StakingStack]:
    async with staking_stack(devnet, mongo_url, tmp_path) as running:
        yield running

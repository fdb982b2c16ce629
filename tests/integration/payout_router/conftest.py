"""A devnet that produces a block every 0.3 s (a payout solidifies ~6 s after it lands), per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from lucid_tron.devnet import Devnet

BLOCK_INTERVAL_S = 0.3


@pytest.fixture
async def chain(start_devnet) -> AsyncIterator[Devnet]:
    async with start_devnet(block_interval=BLOCK_INTERVAL_S) as running:
        yield running

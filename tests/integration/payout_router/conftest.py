"""A devnet that produces a block every 0.3 s (a payout solidifies ~6 s after it lands), per test; operators' and
payout-router's certificates, per module."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from integration.payout_router.approval_kit import issue_operators
from lucid_tron.devnet import Devnet
from lucid_tron.pki import PkiDirectory, TlsFiles

BLOCK_INTERVAL_S = 0.3


@pytest.fixture
async def chain(start_devnet) -> AsyncIterator[Devnet]:
    async with start_devnet(block_interval=BLOCK_INTERVAL_S) as running:
        yield running


@pytest.fixture(scope="module")
def operators(tmp_path_factory: pytest.TempPathFactory) -> tuple[PkiDirectory, dict[str, TlsFiles]]:
    """A CA with payout-router's certificate and those of the operators alice and bob (approval_kit.ALICE, BOB)."""
    pki = PkiDirectory(tmp_path_factory.mktemp("payout-pki") / "pki")
    return pki, issue_operators(pki)

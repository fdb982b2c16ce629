"""Fixtures of the storage tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lucid_tron.testing import MongoServer


@pytest.fixture(scope="session")
def pausable_mongo() -> Iterator[MongoServer]:
    """A server the storage tests stop (SIGSTOP) and continue, which the session's shared server must not see.
    Each test leaves it running."""
    with MongoServer() as server:
        yield server

"""A service loads only the storage driver it uses (idle RSS budget: 60 MB per service)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _loaded_after(statement: str) -> set[str]:
    probe = f"import sys; {statement}; print(' '.join(m for m in ('pymongo', 'redis') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("import lucid_tron.storage", set()),
        ("from lucid_tron.storage import map_storage_errors, MONGO_UNAVAILABLE", set()),
        ("from lucid_tron.storage import connect_mongo", {"pymongo"}),
        ("import lucid_tron.storage._mongo", {"pymongo"}),
        ("from lucid_tron.storage import MongoSettings, RedisSettings", set()),
        ("from lucid_tron.storage import MongoStore, IdempotencyKeys, Leases, Outbox, AuditLog", {"pymongo"}),
        ("from lucid_tron.storage import connect_redis", {"redis"}),
        ("import lucid_tron.storage._redis", {"redis"}),
        ("import lucid_tron.testing", set()),
    ],
)
def test_importing_storage_loads_only_the_driver_asked_for(statement, expected):
    assert _loaded_after(statement) == expected

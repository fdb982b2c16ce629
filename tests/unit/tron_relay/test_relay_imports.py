"""tron-relay imports Redis's driver (its cache) but not MongoDB's: what it does not load keeps its idle process
within 60 MB."""

from __future__ import annotations

from fixtures.imports import modules_after_importing


def test_tron_relay_loads_redis_and_not_pymongo() -> None:
    loaded = modules_after_importing("lucid_tron.services.tron_relay.__main__")
    assert "redis" in loaded
    assert "pymongo" not in loaded

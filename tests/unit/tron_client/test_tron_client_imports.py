"""tron-client imports neither Redis's nor MongoDB's driver: what it does not load keeps its idle process within
60 MB."""

from __future__ import annotations

from fixtures.imports import modules_after_importing


def test_tron_client_loads_no_database_driver() -> None:
    loaded = modules_after_importing("lucid_tron.services.tron_client.__main__")
    assert {"redis", "pymongo"}.isdisjoint(loaded)
    assert "lucid_tron.trongrid" in loaded

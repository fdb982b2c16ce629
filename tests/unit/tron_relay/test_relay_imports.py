"""tron-relay imports Redis's driver (its cache) but not MongoDB's, and Tor's control-port library (stem) only when
Tor is on: what it does not load keeps its idle process within 60 MB."""

from __future__ import annotations

import subprocess
import sys

from fixtures.imports import modules_after_importing

# Builds the service as `run` does and prints what is loaded; nothing connects before `start`.
_BUILD = """
import sys
from lucid_tron.config import load_settings
from lucid_tron.services.tron_relay.__main__ import RelaySettings, build
build(load_settings(RelaySettings, dict(arg.split("=", 1) for arg in sys.argv[1:])))
print(" ".join(sorted(sys.modules)))
"""
_ENV = ("REDIS_URL=redis://127.0.0.1:1/0", "TRONGRID_URL=http://127.0.0.1:1", "SECRETS_DIR=/nonexistent")


def _modules_after_building(*env: str) -> set[str]:
    command = [sys.executable, "-c", _BUILD, *_ENV, *env]
    return set(subprocess.run(command, check=True, capture_output=True, text=True).stdout.split())


def test_tron_relay_loads_redis_and_not_pymongo() -> None:
    loaded = modules_after_importing("lucid_tron.services.tron_relay.__main__")
    assert "redis" in loaded
    assert "pymongo" not in loaded


def test_tron_relay_with_tor_off_loads_neither_stem_nor_the_socks_connector() -> None:
    loaded = _modules_after_building("USE_TOR_FOR_EXTERNAL_CALLS=false", "ALLOW_DIRECT_EXTERNAL_CALLS=true")
    assert "stem" not in loaded
    assert "aiohttp_socks" not in loaded


def test_tron_relay_with_tor_on_loads_stem_and_the_socks_connector_when_built_not_on_the_first_request() -> None:
    # A ~0.1 s import inside the first request would make it late, and a refusal while Tor is down slow.
    loaded = _modules_after_building("TOR_PROXY=socks5h://127.0.0.1:9050")
    assert "stem" in loaded
    assert "aiohttp_socks" in loaded

"""Each service imports only the drivers it uses, which is most of what keeps an idle process within 60 MB:
tron-client neither redis nor pymongo, tron-relay redis but not pymongo."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def top_level_modules_after_importing(module: str) -> set[str]:
    code = f"import sys, json, {module}; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(json.loads(output))


@pytest.mark.parametrize(
    ("module", "uses", "never"),
    [
        ("lucid_tron.services.tron_client.__main__", set(), {"redis", "pymongo"}),
        ("lucid_tron.services.tron_relay.__main__", {"redis"}, {"pymongo"}),
    ],
)
def test_a_service_loads_only_the_drivers_it_uses(module, uses, never):
    loaded = top_level_modules_after_importing(module)
    assert uses <= loaded
    assert not (never & loaded)

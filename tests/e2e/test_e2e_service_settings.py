"""Each skeleton service refuses to start without what `up` (or compose) must give it, naming every variable.

These run one service process each, without `up` (no e2e marker): the settings are what a deployment has to get
right, so they are checked the way a deployment meets them, through `python -m lucid_tron.services.<name>`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lucid_tron.mesh import EXIT_CONFIG

REQUIRED = {
    "wallet_manager": ["MONGO_URL", "USDT_CONTRACT"],
    "usdt_manager": ["MONGO_URL", "TRON_CLIENT_ADDR", "TRON_RELAY_ADDR", "WALLET_MANAGER_ADDR", "USDT_CONTRACT"],
    "staking": ["MONGO_URL", "USDT_CONTRACT", "TRON_CLIENT_ADDR", "WALLET_MANAGER_ADDR"],
    "payment_gateway": [
        "MONGO_URL",
        "REDIS_URL",
        "TRON_CLIENT_ADDR",
        "TRON_RELAY_ADDR",
        "WALLET_MANAGER_ADDR",
        "USDT_CONTRACT",
    ],
    "payout_router": ["MONGO_URL", "REDIS_URL", "TRON_CLIENT_ADDR", "WALLET_MANAGER_ADDR", "USDT_CONTRACT"],
}


def start(package: str, tmp_path: Path, **values: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "SECRETS_DIR": str(tmp_path), **values}
    return subprocess.run(
        [sys.executable, "-m", f"lucid_tron.services.{package}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("package", list(REQUIRED))
def test_every_missing_setting_is_named_at_once(package: str, tmp_path: Path) -> None:
    done = start(package, tmp_path)
    assert done.returncode == EXIT_CONFIG
    named = [line.split(":")[0].strip() for line in done.stderr.splitlines()[1:]]
    assert named == REQUIRED[package]


@pytest.mark.parametrize("package", ["usdt_manager", "payout_router"])
def test_malformed_urls_and_contract_are_refused_without_showing_the_urls(package: str, tmp_path: Path) -> None:
    values = {variable: "127.0.0.1:1" for variable in REQUIRED[package]}
    values.update(MONGO_URL="http://user:hunter2@db", REDIS_URL="redis://127.0.0.1:1/0", USDT_CONTRACT="TnotAnAddress")
    done = start(package, tmp_path, **values)
    assert done.returncode == EXIT_CONFIG
    problems = {line.split(":")[0].strip() for line in done.stderr.splitlines()[1:]}
    assert problems == {"MONGO_URL", "USDT_CONTRACT"}
    assert "hunter2" not in done.stderr

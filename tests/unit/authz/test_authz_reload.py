"""A policy file is reloaded when it changes; an invalid edit keeps the last good policy, says why, and is counted."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from lucid_tron.authz import PolicySource

SIGN = "/lucid.tron.v1.WalletService/SignTransaction"
ROUTER = "spiffe://lucid/tron/payout-router"


def write(path: Path, allowed: list[str], *, name: str = "p", bump: int = 0) -> None:
    path.write_text(json.dumps({"name": name, "allow_rules": [{"name": "r", "source": {"principals": allowed}}]}))
    # A new mtime even when the edit lands within the filesystem's timestamp resolution.
    stamp = path.stat().st_mtime_ns + bump * 1_000_000
    os.utime(path, ns=(stamp, stamp))


def test_without_a_file_the_shipped_mesh_policy_applies_not_allow_all() -> None:
    source = PolicySource(None)
    assert source.current.name == "lucid-tron-mesh"
    assert not source.current.decide(SIGN, "spiffe://lucid/tron/payment-gateway").allowed
    assert not source.reload_if_changed()


def test_an_edited_file_replaces_the_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    write(path, [ROUTER])
    source = PolicySource(path)
    write(path, ["spiffe://lucid/tron/staking"], bump=1)
    assert source.reload_if_changed()
    assert source.version == 1
    assert not source.current.decide(SIGN, ROUTER).allowed


def test_an_unchanged_file_is_not_parsed_again(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    write(path, [ROUTER])
    source = PolicySource(path)
    before = source.current
    os.utime(path, ns=(path.stat().st_mtime_ns + 5_000_000,) * 2)  # touched, same content
    assert not source.reload_if_changed()
    assert source.current is before


def test_an_invalid_edit_keeps_the_last_good_policy_and_logs_why(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "policy.json"
    write(path, [ROUTER], name="good")
    source = PolicySource(path)
    path.write_text('{"name": "bad", "allow_rules": [{"name": "r", "source": {"principals": "not a list"}}]}')
    with caplog.at_level(logging.ERROR, logger="lucid_tron.authz"):
        assert not source.reload_if_changed()
    assert source.current.name == "good" and source.current.decide(SIGN, ROUTER).allowed
    assert source.counts.reload_failures == 1
    [record] = caplog.records
    assert "keeping policy 'good'" in record.getMessage()
    assert "allow_rules[0].source.principals must be a non-empty list of strings" in record.getMessage()


def test_a_deleted_file_keeps_the_last_good_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    write(path, [ROUTER])
    source = PolicySource(path)
    path.unlink()
    assert not source.reload_if_changed()
    assert source.current.decide(SIGN, ROUTER).allowed and source.counts.reload_failures == 1


def test_decision_counts_survive_a_reload(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    write(path, [ROUTER])
    source = PolicySource(path)
    source.current.decide(SIGN, ROUTER).count.value += 1
    write(path, [ROUTER, "spiffe://lucid/tron/staking"], bump=1)
    source.reload_if_changed()
    assert source.current.decide(SIGN, ROUTER).count.value == 1


def test_a_file_that_is_not_text_keeps_the_last_good_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    write(path, [ROUTER])
    source = PolicySource(path)
    path.write_bytes(b"\xff\xfe{")
    assert not source.reload_if_changed()
    assert source.current.decide(SIGN, ROUTER).allowed and source.counts.reload_failures == 1

"""Limits per caller role: a caller's role from its authenticated identity, and PAYOUT_ROLE_LIMITS as read."""

from __future__ import annotations

import pytest

from lucid_tron.config import ConfigError
from lucid_tron.services.payout_router.__main__ import PayoutSettings
from lucid_tron.services.payout_router.limits import RoleLimits, caller_role, parse_role_limits


@pytest.mark.parametrize(("principal", "role"), [
    ("spiffe://lucid/operator/alice", "operator"),
    ("spiffe://lucid/operator/bob", "operator"),
    ("spiffe://lucid/tron/staking", "tron/staking"),
    (None, "unauthenticated"),
    ("spiffe://elsewhere.example/x", "other"),
])
def test_a_callers_role_comes_from_its_authenticated_identity(principal, role):
    assert caller_role(principal) == role


def test_role_limits_are_read_per_role_and_asset():
    assert parse_role_limits("operator:USDT:5:50, tron/staking:TRX:1:2,operator:TRX:3:4") == {
        "operator": {"USDT": RoleLimits(5, 50), "TRX": RoleLimits(3, 4)},
        "tron/staking": {"TRX": RoleLimits(1, 2)},
    }


def test_a_role_without_limits_is_held_to_the_overall_ones_alone():
    policy = PayoutSettings(payout_role_limits="operator:USDT:5:50").policy()
    assert policy.limits("USDT", "operator") == {"hour": (1_000_000_000, 5), "day": (10_000_000_000, 50)}
    assert policy.limits("USDT", "tron/staking") == {"hour": (1_000_000_000, None), "day": (10_000_000_000, None)}


@pytest.mark.parametrize("value", ["operator:USDT:5", "admins:USDT:5:50", "operator:BTC:5:50", "operator:USDT:-1:5"])
def test_a_malformed_role_limit_is_refused_naming_the_variable(value):
    with pytest.raises(ConfigError) as refused:
        PayoutSettings(payout_role_limits=value)
    assert [problem.variable for problem in refused.value.problems] == ["PAYOUT_ROLE_LIMITS"]

"""The policy engine: A43's JSON, deny before allow, default deny, patterns, audit conditions, invalid policies."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lucid_tron.authz import MESH_POLICY, SIDECAR_POLICY, AuditCondition, PolicyError, parse_policy, shipped_policy_text

SIGN = "/lucid.tron.v1.WalletService/SignTransaction"
DERIVE = "/lucid.tron.v1.WalletService/DeriveAddress"
ROUTER = "spiffe://lucid/tron/payout-router"


def policy(deny: list[dict] | None = None, allow: list[dict] | None = None, **extra: object) -> str:
    document: dict[str, object] = {"name": "p", "allow_rules": allow or []}
    if deny is not None:
        document["deny_rules"] = deny
    document.update(extra)
    return json.dumps(document)


def rule(name: str, principals: list[str] | None = None, paths: list[str] | None = None) -> dict:
    body: dict[str, object] = {"name": name}
    if principals is not None:
        body["source"] = {"principals": principals}
    if paths is not None:
        body["request"] = {"paths": paths}
    return body


def test_an_allow_rule_allows_and_names_itself() -> None:
    verdict = parse_policy(policy(allow=[rule("signers", [ROUTER], [SIGN])])).decide(SIGN, ROUTER)
    assert (verdict.allowed, verdict.rule) == (True, "signers")


def test_nothing_matching_is_the_default_deny_with_no_rule() -> None:
    verdict = parse_policy(policy(allow=[rule("signers", [ROUTER], [SIGN])])).decide(DERIVE, ROUTER)
    assert (verdict.allowed, verdict.rule) == (False, None)


def test_a_deny_rule_wins_over_a_matching_allow_rule() -> None:
    text = policy(deny=[rule("never", [ROUTER], [SIGN])], allow=[rule("all", ["*"])])
    verdict = parse_policy(text).decide(SIGN, ROUTER)
    assert (verdict.allowed, verdict.rule) == (False, "never")


@pytest.mark.parametrize(
    ("pattern", "principal", "matches"),
    [
        ("spiffe://lucid/operator/*", "spiffe://lucid/operator/alice", True),
        ("spiffe://lucid/operator/*", "spiffe://lucid/tron/staking", False),
        ("*", "spiffe://anything", True),
        ("*/staking", "spiffe://lucid/tron/staking", True),
        (ROUTER, ROUTER, True),
        (ROUTER, ROUTER + "x", False),
    ],
)
def test_principal_patterns_are_exact_prefix_suffix_or_any(pattern: str, principal: str, matches: bool) -> None:
    assert parse_policy(policy(allow=[rule("r", [pattern])])).decide(SIGN, principal).allowed is matches


def test_a_rule_naming_principals_never_matches_a_caller_without_one() -> None:
    assert not parse_policy(policy(allow=[rule("any", ["*"])])).decide(SIGN, None).allowed


@pytest.mark.parametrize(
    ("pattern", "method", "matches"),
    [
        ("/lucid.tron.v1.WalletService/*", SIGN, True),
        ("/lucid.tron.v1.WalletService/*", "/lucid.tron.v1.UsdtService/Transfer", False),
        ("*", SIGN, True),
        (SIGN, DERIVE, False),
    ],
)
def test_path_patterns_match_full_method_names(pattern: str, method: str, matches: bool) -> None:
    assert parse_policy(policy(allow=[rule("r", paths=[pattern])])).decide(method, ROUTER).allowed is matches


@pytest.mark.parametrize(
    ("condition", "audited_allow", "audited_deny"),
    [("NONE", False, False), ("ON_DENY", False, True), ("ON_ALLOW", True, False), ("ON_DENY_AND_ALLOW", True, True)],
)
def test_the_audit_condition_decides_which_verdicts_are_audited(condition: str, audited_allow: bool, audited_deny: bool) -> None:
    options = {"audit_condition": condition, "audit_loggers": [{"name": "stdout_logger", "config": {}}]}
    parsed = parse_policy(policy(allow=[rule("r", [ROUTER])], audit_logging_options=options))
    assert parsed.audit_condition is AuditCondition(condition)
    assert parsed.decide(SIGN, ROUTER).audited is audited_allow
    assert parsed.decide(SIGN, "spiffe://lucid/tron/other").audited is audited_deny


def test_without_an_audit_logger_nothing_is_audited() -> None:
    parsed = parse_policy(policy(allow=[], audit_logging_options={"audit_condition": "ON_DENY"}))
    assert not parsed.decide(SIGN, ROUTER).audited


def test_decisions_are_counted_by_method_decision_and_rule() -> None:
    parsed = parse_policy(policy(allow=[rule("signers", [ROUTER], [SIGN])]))
    compiled = parsed.for_method(SIGN)
    for _ in range(3):
        compiled.decide(ROUTER).count.value += 1
    compiled.decide("spiffe://x").count.value += 1
    counted = {key: count.value for key, count in parsed.counts.decisions.items()}
    assert counted == {(SIGN, "ALLOW", "signers"): 3, (SIGN, "DENY", ""): 1}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "not JSON"),
        ('{"allow_rules": []}', "missing name"),
        ('{"name": "p"}', "missing allow_rules"),
        (policy(allow=[rule("a"), rule("a")]), "repeated: a"),
        (policy(allow=[{"name": "h", "request": {"headers": [{"key": "x"}]}}]), "unsupported field(s) headers"),
        (policy(allow=[rule("w", paths=["/a/*b"])]), "may only end"),
        (policy(allow=[rule("e", principals=[])]), "non-empty list"),
        (policy(audit_logging_options={"audit_condition": "SOMETIMES"}), "'SOMETIMES' is not one of"),
        (policy(audit_logging_options={"audit_loggers": [{"name": "syslog"}]}), "unknown logger 'syslog'"),
    ],
)
def test_a_policy_the_engine_cannot_evaluate_exactly_is_refused_saying_why(text: str, problem: str) -> None:
    with pytest.raises(PolicyError, match=None) as caught:
        parse_policy(text)
    assert problem in str(caught.value)


def test_an_unknown_optional_audit_logger_is_ignored() -> None:
    options = {"audit_condition": "ON_DENY", "audit_loggers": [{"name": "syslog", "is_optional": True}]}
    assert not parse_policy(policy(audit_logging_options=options)).audit_logger


@pytest.mark.parametrize("name", [MESH_POLICY, SIDECAR_POLICY])
def test_the_shipped_policies_parse_and_audit_denials(name: str) -> None:
    parsed = parse_policy(shipped_policy_text(name))
    assert parsed.audited(allowed=False)


segments = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-/.", min_size=1, max_size=20)


@given(prefix=segments, rest=st.text(alphabet="abcxyz/-", max_size=10))
def test_a_prefix_pattern_matches_exactly_the_names_that_start_with_it(prefix: str, rest: str) -> None:
    parsed = parse_policy(policy(allow=[rule("r", [prefix + "*"])]))
    assert parsed.decide(SIGN, prefix + rest).allowed
    other = "#" + prefix
    assert not parsed.decide(SIGN, other).allowed


@given(principal=segments, method=segments)
def test_a_policy_without_allow_rules_denies_everything(principal: str, method: str) -> None:
    assert not parse_policy(policy(deny=[], allow=[])).decide("/" + method, principal).allowed


names = st.sampled_from(["spiffe://lucid/tron/a", "spiffe://lucid/tron/b", "spiffe://lucid/operator/x"])
methods = st.sampled_from(["/s.A/One", "/s.A/Two", "/s.B/One"])
principal_patterns = st.lists(
    st.sampled_from(["*", "spiffe://lucid/tron/*", "spiffe://lucid/tron/a", "spiffe://lucid/operator/*", "*/b"]),
    min_size=1,
    max_size=3,
)
path_patterns = st.lists(st.sampled_from(["*", "/s.A/*", "/s.A/One", "/s.B/One", "*/One"]), min_size=1, max_size=3)
rules = st.lists(st.tuples(st.none() | principal_patterns, st.none() | path_patterns), max_size=4)


def reference(pattern: str, value: str) -> bool:
    """A43's string match, spelled out: `*` alone, a `*` prefix match, a `*` suffix match, or equality."""
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return value[: len(pattern) - 1] == pattern[:-1]
    if pattern.startswith("*"):
        return value[len(value) - len(pattern) + 1 :] == pattern[1:] and len(value) >= len(pattern) - 1
    return pattern == value


@given(deny=rules, allow=rules, calls=st.lists(st.tuples(names, methods), min_size=1, max_size=8))
def test_the_compiled_cached_decision_is_deny_first_then_allow_then_deny(deny, allow, calls) -> None:
    def as_rules(kind: str, specs: list) -> list[dict]:
        return [rule(f"{kind}{index}", principals, paths) for index, (principals, paths) in enumerate(specs)]

    parsed = parse_policy(policy(deny=as_rules("d", deny), allow=as_rules("a", allow)))
    compiled = {method: parsed.for_method(method) for method in {m for _, m in calls}}

    def first(specs: list, who: str, method: str) -> int | None:
        for index, (principals, paths) in enumerate(specs):
            if (principals is None or any(reference(p, who) for p in principals)) and (
                paths is None or any(reference(p, method) for p in paths)
            ):
                return index
        return None

    for who, method in calls * 2:  # the second pass is answered from the per-principal cache
        verdict = compiled[method].decide(who)
        denied, allowed = first(deny, who, method), first(allow, who, method)
        if denied is not None:
            assert (verdict.allowed, verdict.rule) == (False, f"d{denied}")
        elif allowed is not None:
            assert (verdict.allowed, verdict.rule) == (True, f"a{allowed}")
        else:
            assert (verdict.allowed, verdict.rule) == (False, None)

"""The authorization policy: its JSON (gRFC A43, audit options of gRFC A59), and its decision for one call.

A policy is deny rules, then allow rules, then deny: a call is refused when a deny rule matches it, allowed when an
allow rule does, refused otherwise. A rule matches a call when its `source.principals` match the caller's principal
(absent: any caller) and its `request.paths` match the full method name (absent: any method). A pattern is exact,
a prefix ending in `*` ("spiffe://lucid/operator/*", "/lucid.tron.v1.WalletService/*"), a suffix starting with `*`,
or `*` alone (for principals: any authenticated caller). Anything the policy language of A43 has that this engine
does not evaluate (`headers`, a `*` inside a pattern) makes the policy invalid rather than silently broader.

Deciding is split in two so that a call costs one dict lookup: `Policy.for_method(method)` keeps, once per method,
only the rules whose paths match it (`MethodPolicy`), and `MethodPolicy.decide(principal)` remembers its verdict per
principal (a mesh has a handful of them). A verdict says whether the call is allowed, the rule that decided (None:
no rule matched, the default deny), whether it is to be audited, and holds the counter of such decisions.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ANY",
    "AuditCondition",
    "Count",
    "Counts",
    "MethodPolicy",
    "Policy",
    "PolicyError",
    "Rule",
    "Verdict",
    "parse_policy",
]

ANY = "*"

# A59's built-in logger. Here it writes one JSON line through the service's log (lucid_tron.mesh's logging), which
# the container runtime collects with every other line.
STDOUT_LOGGER = "stdout_logger"

# A principal's verdicts kept per method: a mesh has a handful of principals; a bound keeps a caller presenting
# many certificates from growing the cache without end.
_MAX_CACHED_PRINCIPALS = 256


class PolicyError(ValueError):
    """The policy text is not a policy this engine evaluates exactly; the message says where and why."""


class AuditCondition(enum.Enum):
    """When a decision is written to the audit log (gRFC A59)."""

    NONE = "NONE"
    ON_DENY = "ON_DENY"
    ON_ALLOW = "ON_ALLOW"
    ON_DENY_AND_ALLOW = "ON_DENY_AND_ALLOW"

    def audits(self, allowed: bool) -> bool:
        if self is AuditCondition.ON_DENY_AND_ALLOW:
            return True
        return self is (AuditCondition.ON_ALLOW if allowed else AuditCondition.ON_DENY)


class Count:
    """One counter of decisions (method, decision, rule); a plain int the metrics read when scraped."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class Counts:
    """Every decision counter of a process, by (method, decision, rule): kept across reloads of the policy."""

    def __init__(self) -> None:
        self.decisions: dict[tuple[str, str, str], Count] = {}
        #: Policy files that changed but could not be used (the last good policy stayed in force).
        self.reload_failures = 0

    def cell(self, method: str, decision: str, rule: str) -> Count:
        key = (method, decision, rule)
        count = self.decisions.get(key)
        if count is None:
            count = self.decisions[key] = Count()
        return count


@dataclass(frozen=True)
class Rule:
    """One named rule; None for `principals` or `paths` means the rule does not restrict it."""

    name: str
    principals: tuple[str, ...] | None = None
    paths: tuple[str, ...] | None = None

    def matches_path(self, method: str) -> bool:
        return self.paths is None or any(_matches(pattern, method) for pattern in self.paths)

    def matches_principal(self, principal: str | None) -> bool:
        if self.principals is None:
            return True
        return principal is not None and any(_matches(pattern, principal) for pattern in self.principals)


@dataclass(frozen=True, eq=False)
class Verdict:
    """The decision for one (method, principal): `rule` None when no rule matched (the default deny)."""

    allowed: bool
    rule: str | None
    audited: bool
    count: Count

    @property
    def decision(self) -> str:
        return "ALLOW" if self.allowed else "DENY"


class MethodPolicy:
    """The rules of a policy that can match one method, and the verdict per principal once worked out."""

    __slots__ = ("_allow", "_counts", "_deny", "_policy", "_verdicts", "method")

    def __init__(self, policy: Policy, method: str, counts: Counts) -> None:
        self.method = method
        self._policy = policy
        self._counts = counts
        self._deny = tuple(rule for rule in policy.deny_rules if rule.matches_path(method))
        self._allow = tuple(rule for rule in policy.allow_rules if rule.matches_path(method))
        self._verdicts: dict[str | None, Verdict] = {}

    def decide(self, principal: str | None) -> Verdict:
        """The verdict for `principal` (None: a caller without an identity) calling this method."""
        verdict = self._verdicts.get(principal)
        if verdict is None:
            verdict = self._decided(principal)
            if len(self._verdicts) >= _MAX_CACHED_PRINCIPALS:
                self._verdicts.clear()
            self._verdicts[principal] = verdict
        return verdict

    def _decided(self, principal: str | None) -> Verdict:
        allowed, rule = False, None
        denying = next((r for r in self._deny if r.matches_principal(principal)), None)
        if denying is not None:
            rule = denying.name
        else:
            allowing = next((r for r in self._allow if r.matches_principal(principal)), None)
            if allowing is not None:
                allowed, rule = True, allowing.name
        decision = "ALLOW" if allowed else "DENY"
        return Verdict(
            allowed=allowed,
            rule=rule,
            audited=self._policy.audited(allowed),
            count=self._counts.cell(self.method, decision, rule or ""),
        )


@dataclass(frozen=True)
class Policy:
    """A parsed policy (`parse_policy`)."""

    name: str
    deny_rules: tuple[Rule, ...] = ()
    allow_rules: tuple[Rule, ...] = ()
    audit_condition: AuditCondition = AuditCondition.NONE
    #: Whether any audit logger is configured (A59: without one, the condition logs nothing).
    audit_logger: bool = False
    counts: Counts = field(default_factory=Counts, compare=False, repr=False)

    def audited(self, allowed: bool) -> bool:
        return self.audit_logger and self.audit_condition.audits(allowed)

    def for_method(self, method: str) -> MethodPolicy:
        """The policy as it applies to `method` ("/package.Service/Method")."""
        return MethodPolicy(self, method, self.counts)

    def decide(self, method: str, principal: str | None) -> Verdict:
        """One decision, compiling the method's rules for it: for tests and tools, not per call."""
        return self.for_method(method).decide(principal)


def parse_policy(text: str, counts: Counts | None = None) -> Policy:
    """The policy in `text` (JSON, gRFC A43 with A59's audit_logging_options); raises PolicyError saying why not.

    `counts` carries the decision counters over from the policy this one replaces.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise PolicyError(f"not JSON: {error}") from None
    where = "policy"
    top = _object(document, where, required={"name", "allow_rules"}, allowed={"deny_rules", "audit_logging_options"})
    name = _string(top["name"], f"{where}.name")
    deny = _rules(top.get("deny_rules", []), "deny_rules")
    allow = _rules(top["allow_rules"], "allow_rules")
    names = [rule.name for rule in (*deny, *allow)]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise PolicyError(f"rule names must be unique; repeated: {', '.join(repeated)}")
    condition, logger = _audit_options(top.get("audit_logging_options"))
    return Policy(name, deny, allow, condition, logger, counts if counts is not None else Counts())


def _rules(value: Any, where: str) -> tuple[Rule, ...]:
    if not isinstance(value, list):
        raise PolicyError(f"{where} must be a list of rules")
    return tuple(_rule(item, f"{where}[{index}]") for index, item in enumerate(value))


def _rule(value: Any, where: str) -> Rule:
    rule = _object(value, where, required={"name"}, allowed={"source", "request"})
    name = _string(rule["name"], f"{where}.name")
    principals = None
    if "source" in rule:
        source = _object(rule["source"], f"{where}.source", allowed={"principals"})
        if "principals" in source:
            principals = _patterns(source["principals"], f"{where}.source.principals")
    paths = None
    if "request" in rule:
        # `headers` is part of A43 but not evaluated here: refusing it keeps a rule from meaning more than it says.
        request = _object(rule["request"], f"{where}.request", allowed={"paths"})
        if "paths" in request:
            paths = _patterns(request["paths"], f"{where}.request.paths")
    return Rule(name, principals, paths)


def _patterns(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise PolicyError(f"{where} must be a non-empty list of strings")
    patterns = tuple(_string(item, f"{where}[{index}]") for index, item in enumerate(value))
    for pattern in patterns:
        inner = pattern[1:-1] if len(pattern) > 1 else ""
        if "*" in inner or pattern == "**":
            raise PolicyError(f"{where}: {pattern!r}: a '*' may only end (prefix) or start (suffix) a pattern")
    return patterns


def _audit_options(value: Any) -> tuple[AuditCondition, bool]:
    if value is None:
        return AuditCondition.NONE, False
    where = "audit_logging_options"
    options = _object(value, where, allowed={"audit_condition", "audit_loggers"})
    raw_condition = options.get("audit_condition", "NONE")
    try:
        condition = AuditCondition(raw_condition)
    except ValueError:
        known = ", ".join(c.value for c in AuditCondition)
        raise PolicyError(f"{where}.audit_condition: {raw_condition!r} is not one of {known}") from None
    loggers = options.get("audit_loggers", [])
    if not isinstance(loggers, list):
        raise PolicyError(f"{where}.audit_loggers must be a list")
    found = False
    for index, item in enumerate(loggers):
        logger = _object(item, f"{where}.audit_loggers[{index}]", required={"name"}, allowed={"config", "is_optional"})
        if logger["name"] == STDOUT_LOGGER:
            found = True
        elif logger.get("is_optional") is not True:
            raise PolicyError(f"{where}.audit_loggers[{index}]: unknown logger {logger['name']!r} (known: {STDOUT_LOGGER})")
    return condition, found


def _object(
    value: Any, where: str, *, required: Set[str] = frozenset(), allowed: Set[str] = frozenset()
) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise PolicyError(f"{where} must be an object")
    missing = sorted(required - value.keys())
    if missing:
        raise PolicyError(f"{where}: missing {', '.join(missing)}")
    unknown = sorted(value.keys() - required - allowed)
    if unknown:
        raise PolicyError(f"{where}: unsupported field(s) {', '.join(unknown)}")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise PolicyError(f"{where} must be a non-empty string")
    return value


def _matches(pattern: str, value: str) -> bool:
    if pattern == ANY:
        return True
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return value == pattern


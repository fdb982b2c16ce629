"""Fault injection: throttling (429), server errors (5xx), added latency, dropped connections, lagging nodes.

A rule matches requests by path prefix (no prefixes: every path but devnet's own /devnet/ admin API). For each
matching request, independently: `latency_ms` is always added, the connection is dropped with probability
`drop` (closed without an answer), the request is answered with `status` with probability `rate`, and with
`lag_blocks` it is served, with probability `rate`, by a node 1..lag_blocks blocks behind (drawn per request),
as a load-balanced TronGrid does: the head can go backwards and a receipt seen a moment ago can vanish.
`count` makes a rule expire after matching that many requests. Draws come from a seeded generator, so a run
with the same requests and the same `fault_seed` fails the same way.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

from ._chain import MAX_READ_LAG

__all__ = ["FaultDecision", "FaultRule", "Faults"]

ADMIN_PREFIX = "/devnet/"


@dataclass
class FaultRule:
    """One fault; see the module docstring for how its fields combine."""

    status: int | None = None
    rate: float = 1.0
    latency_ms: int = 0
    drop: float = 0.0
    paths: tuple[str, ...] = ()
    count: int | None = None
    retry_after_s: int | None = None
    lag_blocks: int = 0
    matched: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.paths, str):
            self.paths = (self.paths,)
        self.paths = tuple(self.paths)
        if self.status is not None and not (self.status == 429 or 500 <= self.status <= 599 or self.status == 403):
            raise ValueError(f"status must be 429, 403 or 5xx, got {self.status}")
        for name in ("rate", "drop"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, got {self.latency_ms}")
        if not 0 <= self.lag_blocks <= MAX_READ_LAG:
            raise ValueError(f"lag_blocks must be between 0 and {MAX_READ_LAG}, got {self.lag_blocks}")
        if self.count is not None and self.count < 1:
            raise ValueError(f"count must be >= 1, got {self.count}")

    def matches(self, path: str) -> bool:
        if not self.paths:
            return not path.startswith(ADMIN_PREFIX)
        return any(path.startswith(prefix) for prefix in self.paths)

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.matched >= self.count

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["paths"] = list(self.paths)
        return out

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> FaultRule:
        known = {"status", "rate", "latency_ms", "drop", "paths", "count", "retry_after_s", "lag_blocks"}
        unknown = set(body) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        return cls(**body)


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one request: wait `latency_ms`, then drop it, or answer `status`, or serve it (from a node
    `lag_blocks` behind the head when that is not 0)."""

    latency_ms: int = 0
    drop: bool = False
    status: int | None = None
    retry_after_s: int | None = None
    lag_blocks: int = 0


class Faults:
    """The fault rules of one devnet. `add` and `clear` work in-process; the admin API calls the same."""

    def __init__(self, seed: int = 0) -> None:
        self._rules: list[FaultRule] = []
        self._random = random.Random(seed)

    @property
    def rules(self) -> list[FaultRule]:
        return list(self._rules)

    def add(self, rule: FaultRule | None = None, /, **fields: Any) -> FaultRule:
        """Add a rule (a FaultRule, or its fields as keywords: status=429, rate=0.5, paths=[...], ...)."""
        if rule is None:
            rule = FaultRule(**fields)
        elif fields:
            raise TypeError("pass a FaultRule or keyword fields, not both")
        self._rules.append(rule)
        return rule

    def clear(self) -> None:
        self._rules.clear()

    def decide(self, path: str) -> FaultDecision:
        latency = 0
        drop = False
        status = None
        retry_after = None
        lag = 0
        for rule in self._rules:
            if not rule.matches(path):
                continue
            rule.matched += 1
            latency += rule.latency_ms
            if rule.drop and self._random.random() < rule.drop:
                drop = True
            if rule.status is not None and status is None and self._random.random() < rule.rate:
                status, retry_after = rule.status, rule.retry_after_s
            if rule.lag_blocks and self._random.random() < rule.rate:
                lag = max(lag, self._random.randint(1, rule.lag_blocks))
        self._rules = [rule for rule in self._rules if not rule.exhausted]
        return FaultDecision(latency_ms=latency, drop=drop, status=status, retry_after_s=retry_after, lag_blocks=lag)

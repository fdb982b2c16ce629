"""The fault breaker: consecutive broadcast or on-chain failures open it, a recovery time later a few probe payouts
are signed (half-open), one success closes it and one failure opens it again; an operator opens and closes it by
hand. Pure functions over its stored document (see `store`); the executor writes the result in the same fenced
transaction as the payout change that caused it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from .limits import BreakerPolicy

CLOSED = "CLOSED"
OPEN = "OPEN"
HALF_OPEN = "HALF_OPEN"
FAULT = "FAULT"
OPERATOR = "OPERATOR"
LIMIT = "LIMIT"

Breaker = Mapping[str, Any]


def initial() -> dict[str, Any]:
    return {"state": CLOSED, "cause": "", "failures": 0, "next_probe_at": None, "half_open_calls": 0, "reason": ""}


def admit(breaker: Breaker, policy: BreakerPolicy, now: datetime) -> dict[str, Any] | None:
    """The breaker after letting one payout be signed now, or None when it may not be."""
    state = breaker["state"]
    if state == CLOSED:
        return dict(breaker)
    if state == OPEN:
        if breaker["cause"] != FAULT or breaker["next_probe_at"] is None or now < breaker["next_probe_at"]:
            return None
        breaker = {**breaker, "state": HALF_OPEN, "half_open_calls": 0}
    if breaker["half_open_calls"] >= policy.half_open_max_calls:
        return None
    return {**breaker, "half_open_calls": breaker["half_open_calls"] + 1}


def succeeded(breaker: Breaker) -> dict[str, Any]:
    """A payout landed: the failure count starts again, and a breaker opened by faults closes (the way out works
    again, whether the proof is a probe or a transaction signed before it opened). One an operator opened stays."""
    if breaker["state"] == OPEN and breaker["cause"] == OPERATOR:
        return {**breaker, "failures": 0}
    return initial()


def failed(breaker: Breaker, policy: BreakerPolicy, now: datetime, why: str) -> dict[str, Any]:
    """A broadcast or on-chain failure: counted; at the threshold (or any failure while half-open) it opens."""
    failures = breaker["failures"] + 1
    if breaker["state"] == OPEN:
        return {**breaker, "failures": failures}
    if breaker["state"] == HALF_OPEN or failures >= policy.failure_threshold:
        return {
            "state": OPEN,
            "cause": FAULT,
            "failures": failures,
            "next_probe_at": now + timedelta(seconds=policy.recovery_s),
            "half_open_calls": 0,
            "reason": why,
        }
    return {**breaker, "failures": failures, "reason": why}


def changed(before: Breaker, after: Breaker) -> bool:
    """Whether `after` differs from the stored `before` (its `_id` aside): only a change is written, so that the
    breaker document is not in every transaction of the executor."""
    def stored(breaker: Breaker) -> dict[str, Any]:
        return {key: value for key, value in breaker.items() if key != "_id"}

    return stored(before) != stored(after)


def set_by_operator(breaker: Breaker, open_it: bool, reason: str) -> dict[str, Any]:
    if open_it:
        return {**breaker, "state": OPEN, "cause": OPERATOR, "next_probe_at": None, "half_open_calls": 0,
                "reason": reason}
    return {**initial(), "reason": reason}

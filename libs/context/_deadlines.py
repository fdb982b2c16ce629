"""The caller's deadline, readable by any code that waits: HTTP to TronGrid, MongoDB, Redis, other services.

Why: a request that arrives with 2 s left must not start a 30 s TronGrid call; the work would finish after the caller
has given up, and its retries would spend quota for nobody. The mesh stores the incoming RPC's deadline here; code
below the servicer asks how long it may wait::

    from lucid_tron.context import deadlines

    response = await session.get(url, timeout=deadlines.timeout(30.0))

This module imports neither grpc nor any client library: it only knows time. The deadline is an absolute point on the
monotonic clock, held in a contextvar, so each RPC (each asyncio task) sees its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from lucid_tron.context._scope import current_scope
from lucid_tron.errors import DeadlineExceeded

__all__ = ["MARGIN_S", "remaining", "timeout", "within"]

# Kept back from every timeout handed down: the time this process needs to turn a downstream failure into an answer
# and send it before its own caller's deadline passes.
MARGIN_S = 0.05

_deadline: ContextVar[float | None] = ContextVar("lucid_deadline", default=None)


def remaining() -> float | None:
    """Seconds left before the current deadline (0 or less once passed), or None when there is no deadline."""
    deadline = _current()
    return None if deadline is None else deadline - time.monotonic()


def timeout(default: float, *, margin: float = MARGIN_S) -> float:
    """How long the next wait may take: `default`, shortened to the time left minus `margin`.

    Raises DeadlineExceeded when less than `margin` is left, so no work starts that cannot finish in time.
    """
    left = remaining()
    if left is None:
        return default
    budget = left - margin
    if budget <= 0:
        raise DeadlineExceeded(f"deadline exceeded ({max(left, 0.0) * 1000:.0f} ms left)")
    return min(default, budget)


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Run a block under a deadline `seconds` from now, or the current one if that is sooner.

    For work that starts without a caller (the chain watcher, the payout executor) and for tests. A deadline is only
    ever tightened: an inner block cannot grant itself more time than its caller has.
    """
    candidate = time.monotonic() + seconds
    current = _current()
    token = _deadline.set(candidate if current is None else min(current, candidate))
    try:
        yield
    finally:
        _deadline.reset(token)


def _current() -> float | None:
    # A `within` block inside the RPC holds the tighter deadline; else the RPC's own, worked out on first use.
    deadline = _deadline.get()
    if deadline is not None:
        return deadline
    scope = current_scope()
    return None if scope is None else scope.deadline

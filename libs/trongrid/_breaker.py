"""A fault circuit breaker: a sick TronGrid yields a fast UNAVAILABLE, not a queue of hanging calls.

    CLOSED ──(N consecutive failures, or failure rate >= R over the last W calls)──> OPEN
    OPEN ──(open_s elapsed)──> HALF_OPEN: exactly one call (the probe) goes through
    HALF_OPEN ──probe succeeds──> CLOSED      HALF_OPEN ──probe fails──> OPEN again

What counts: a failure is a call that got no usable answer (connection or Tor failure, timeout, 5xx,
an undecodable body). A success is any real answer, including a node error or a 4xx: TronGrid is up.
Throttling (429/403, SERVER_BUSY) is neither: it is TronGrid's quota speaking, handled by backing off
and honouring Retry-After. Letting it open the breaker would turn a short, announced pause into a
`open_s` outage for every caller, and would declare the chain down when it is only rationed.
"""

from __future__ import annotations

import enum
import logging
import math
import time
from collections import deque
from dataclasses import dataclass

from ._exceptions import TronGridUnavailable

__all__ = ["BreakerPolicy", "BreakerState", "CircuitBreaker"]

_log = logging.getLogger("lucid_tron.trongrid")


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, kw_only=True)
class BreakerPolicy:
    """When the breaker opens and for how long."""

    #: Open after this many failures in a row.
    consecutive_failures: int = 5
    #: Also open when, over the last `window` calls (and at least `min_calls` of them), the share of
    #: failures reaches `failure_rate`: catches a TronGrid that fails every other call.
    window: int = 20
    min_calls: int = 10
    failure_rate: float = 0.5
    #: Seconds to fail fast before letting one probe through.
    open_s: float = 30.0

    def __post_init__(self) -> None:
        if self.consecutive_failures < 1:
            raise ValueError(f"consecutive_failures must be >= 1, got {self.consecutive_failures}")
        if not 1 <= self.min_calls <= self.window:
            raise ValueError(f"need 1 <= min_calls <= window, got {self.min_calls} and {self.window}")
        if not 0.0 < self.failure_rate <= 1.0:
            raise ValueError(f"failure_rate must be in (0, 1], got {self.failure_rate}")
        if not (math.isfinite(self.open_s) and self.open_s > 0):
            raise ValueError(f"open_s must be a positive number of seconds, got {self.open_s}")


class CircuitBreaker:
    """The breaker of one upstream. Each call does `probe = acquire()`, then exactly one of
    `record_success(probe)`, `record_failure(probe)` or `release(probe)` (neither: throttled, cancelled).

    Single event loop, no locks: nothing here awaits.
    """

    def __init__(self, policy: BreakerPolicy | None = None, *, name: str = "TronGrid") -> None:
        self.policy = policy or BreakerPolicy()
        self.name = name
        self._state = BreakerState.CLOSED
        self._opened_at = 0.0
        self._consecutive_failures = 0
        self._recent: deque[bool] = deque(maxlen=self.policy.window)  # True = failure
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        """The state now (OPEN becomes HALF_OPEN once `open_s` has passed)."""
        if self._state is BreakerState.OPEN and self._open_remaining_s() <= 0:
            return BreakerState.HALF_OPEN
        return self._state

    def acquire(self) -> bool:
        """Let a call through, or raise `TronGridUnavailable` (reason TRONGRID_CIRCUIT_OPEN) at once.

        Returns True when this call is the half-open probe.
        """
        if self._state is BreakerState.CLOSED:
            return False
        if self._state is BreakerState.OPEN:
            remaining = self._open_remaining_s()
            if remaining > 0:
                raise self._open_error(remaining)
            self._state = BreakerState.HALF_OPEN
            self._probe_in_flight = False
        if self._probe_in_flight:
            # One probe at a time; its answer is due within one request timeout.
            raise self._open_error(min(1.0, self.policy.open_s))
        self._probe_in_flight = True
        return True

    def record_success(self, probe: bool) -> None:
        if self._state is BreakerState.HALF_OPEN and probe:
            self._close()
        elif self._state is BreakerState.CLOSED:
            self._consecutive_failures = 0
            self._recent.append(False)

    def record_failure(self, probe: bool) -> None:
        if self._state is BreakerState.HALF_OPEN and probe:
            self._open("the half-open probe failed")
        elif self._state is BreakerState.CLOSED:
            self._consecutive_failures += 1
            self._recent.append(True)
            policy = self.policy
            if self._consecutive_failures >= policy.consecutive_failures:
                self._open(f"{self._consecutive_failures} failures in a row")
            elif len(self._recent) >= policy.min_calls:
                rate = sum(self._recent) / len(self._recent)
                if rate >= policy.failure_rate:
                    self._open(f"{rate:.0%} of the last {len(self._recent)} calls failed")

    def release(self, probe: bool) -> None:
        """The call ended without saying whether the upstream is healthy (throttled, cancelled)."""
        if self._state is BreakerState.HALF_OPEN and probe:
            self._probe_in_flight = False

    def _open(self, why: str) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = time.monotonic()
        self._probe_in_flight = False
        self._consecutive_failures = 0
        self._recent.clear()
        _log.warning("%s circuit OPEN for %.1f s: %s; calls fail fast meanwhile", self.name, self.policy.open_s, why)

    def _close(self) -> None:
        self._state = BreakerState.CLOSED
        self._probe_in_flight = False
        self._consecutive_failures = 0
        self._recent.clear()
        _log.info("%s circuit CLOSED: the probe succeeded", self.name)

    def _open_remaining_s(self) -> float:
        return self._opened_at + self.policy.open_s - time.monotonic()

    def _open_error(self, retry_after_s: float) -> TronGridUnavailable:
        return TronGridUnavailable(
            f"{self.name} is failing; calls are refused for {retry_after_s:.1f} s more (circuit breaker open)",
            reason="TRONGRID_CIRCUIT_OPEN",
            retry_after_s=retry_after_s,
        )

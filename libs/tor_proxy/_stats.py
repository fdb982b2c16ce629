"""`TorStats`: what this process did through Tor, as plain counters (a later issue may export them as metrics)."""

from __future__ import annotations

import copy
from dataclasses import dataclass

__all__ = ["TorStats"]


@dataclass
class TorStats:
    """Counters of one process, kept by `TorProxy` (requests), `TorController` (NEWNYM) and `TorHealthMonitor`.

    Everything runs on the event loop, so the counters are plain ints. Read a consistent copy with `snapshot()`;
    only tor_proxy writes them.
    """

    #: HTTP requests started through a Tor session (each retry counts).
    requests: int = 0
    #: Requests that ended without an HTTP answer (refused, proxy or circuit failure, timeout, reset).
    failures: int = 0
    #: Requests refused before any socket because the health monitor knew Tor was unusable (part of `failures`).
    refused_while_unavailable: int = 0
    #: Requests whose answer took longer than TOR_MAX_LATENCY_MS.
    slow_requests: int = 0
    #: NEWNYM signals tor confirmed (scheduled, on demand, or sent by another controller of the same tor).
    newnym_rotations: int = 0
    #: Purposes moved to new SOCKS credentials (so a new circuit) because a request on them was too slow.
    latency_rotations: int = 0
    #: Milliseconds to the answer headers of the last request that got one.
    last_latency_ms: float | None = None
    #: Milliseconds of the last SOCKS probe (a SOCKS5 greeting) of the health monitor.
    last_probe_latency_ms: float | None = None
    #: Health checks run, and how many of them found Tor unusable.
    health_checks: int = 0
    health_failures: int = 0

    @property
    def rotations(self) -> int:
        """Circuit rotations of any kind."""
        return self.newnym_rotations + self.latency_rotations

    def snapshot(self) -> TorStats:
        """A copy that does not change any more."""
        return copy.copy(self)

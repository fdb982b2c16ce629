"""LeasedJob: a background job that runs in rounds on whichever replica holds its lease.

    job = LeasedJob("treasury-sweeper", sweep_round, leases=lambda: store.leases(owner=host_pid, ttl_s=15),
                    interval_s=3.0)
    await job.run()     # until cancelled; then the lease is released so a standby takes over at once

Each round takes the lease (or renews it) and calls `work(fence)` with `fence` = (Leases, Lease): the job's writes go
through `fence[0].fenced(fence[1], ...)`, so a paused former holder cannot write. A round that raises LeaseLost ends
there and the next one tries to take the lease again; any other failure is logged and the next round goes on: an
outage must not end the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from lucid_tron.errors import Aborted, LucidError

from ._leases import Lease, LeaseLost, Leases
from ._outbox import raise_if_cancelled

__all__ = ["Fence", "LeasedJob", "step_each"]

Fence = tuple[Leases, Lease]

_log = logging.getLogger("lucid_tron.storage.jobs")


async def step_each(
    items: Sequence[Mapping[str, Any]], step: Callable[[Any], Awaitable[None]], *, what: str, log: logging.Logger
) -> int:
    """A round's work on each of `items` (documents with an `_id`), each alone: one that changed meanwhile
    (Aborted), whose dependency is down or refuses (LucidError), or that fails unexpectedly waits for the next round
    and the others behind it still move. LeaseLost stops the round (another replica holds the lease). How many were
    looked at."""
    for item in items:
        try:
            await step(item)
        except LeaseLost:
            raise
        except Aborted as error:
            log.info("%s %s changed meanwhile (%s); next round", what, item["_id"], error.message)
        except LucidError as error:
            log.warning("%s %s waits: %s", what, item["_id"], error.message)
        except Exception:
            log.exception("%s %s failed a step; retried next round", what, item["_id"])
    return len(items)


class LeasedJob:
    """Runs `work(fence)` every `interval_s` while holding the lease `name`, or at once when `wake` is set (work
    this process just made); `ready()` false skips a round without taking the lease (a replica that is not
    configured for the job leaves it to one that is)."""

    def __init__(
        self,
        name: str,
        work: Callable[[Fence], Awaitable[int]],
        *,
        leases: Callable[[], Leases],
        interval_s: float,
        ready: Callable[[], bool] = lambda: True,
        wake: asyncio.Event | None = None,
    ) -> None:
        self.name = name
        self._work = work
        # A factory: a store opens only after the start hooks that create its jobs.
        self._leases_of = leases
        self._leases: Leases | None = None
        self._lease: Lease | None = None
        self._interval_s = interval_s
        self._ready = ready
        self._wake = wake or asyncio.Event()

    async def run(self) -> None:
        """Rounds until cancelled; a failed round is logged and the next one tries again. Cancelled, it releases
        the lease so a standby takes over at once."""
        try:
            while True:
                raise_if_cancelled()
                try:
                    await self.run_once()
                except LucidError as error:
                    _log.warning("%s round skipped: %s", self.name, error.message)
                except Exception:
                    _log.exception("%s round failed", self.name)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._interval_s)
                self._wake.clear()
        finally:
            if self._lease is not None and self._leases is not None:
                lease, self._lease = self._lease, None
                try:
                    await asyncio.shield(self._leases.release(lease))
                except Exception:
                    _log.warning("could not release the lease %s", self.name, exc_info=True)

    async def run_once(self) -> int:
        """One round: take or renew the lease, then the work; what the work looked at (0 without the lease)."""
        if not self._ready():
            return 0
        if self._leases is None:
            self._leases = self._leases_of()
        try:
            self._lease = await (self._leases.acquire(self.name) if self._lease is None
                                 else self._leases.renew(self._lease))
        except LeaseLost:
            self._lease = None
        if self._lease is None:
            return 0
        try:
            return await self._work((self._leases, self._lease))
        except LeaseLost:
            _log.warning("the lease %s was taken over; this round stops", self.name)
            self._lease = None
            return 0

"""The expiry job: moves PENDING invoices past their expiry to EXPIRED, on one replica at a time (a lease).

Expiry is judged by the chain's clock as far as the chain watcher has read it (its cursor's block time), not by
ours: an invoice paid in a block stamped before its expiry must not expire because the watcher learns of the
payment late (TronGrid throttling, a restart). Until the watcher has a cursor nothing expires.

Each change is still conditional on the invoice's sequence (`store.apply`), so a former lease holder that wakes up
late, or a payment seen at the same moment, cannot make an invoice expire twice or expire over a payment.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from lucid_tron.errors import LucidError
from lucid_tron.storage import Lease, LeaseLost, Leases, raise_if_cancelled

from .invoices import Invoices
from lucid_tron.storage import utc_now

LEASE = "invoice-expiry"

_log = logging.getLogger("lucid_tron.services.payment_gateway.expiry")


class ExpiryJob:
    """Every `interval_s`, while holding the lease, expires the invoices that are due."""

    def __init__(
        self,
        invoices: Invoices,
        leases: Callable[[], Leases],
        *,
        interval_s: float,
        chain_time: Callable[[], Awaitable[datetime | None]],
    ) -> None:
        # A factory: the store opens only after the start hooks that create this job.
        self._leases = leases
        self._chain_time = chain_time
        self._invoices = invoices
        self._interval_s = interval_s
        self._lease: Lease | None = None

    async def run_once(self) -> int:
        """One round: take or renew the lease, then expire what is due; how many were expired (0 without the lease)."""
        try:
            if self._lease is None:
                self._lease = await self._leases().acquire(LEASE)
            else:
                self._lease = await self._leases().renew(self._lease)
        except LeaseLost:
            self._lease = None
        if self._lease is None:
            return 0
        watched_to = await self._chain_time()
        if watched_to is None:
            return 0
        return await self._invoices.expire_due(min(utc_now(), watched_to))

    async def run(self) -> None:
        """Rounds until cancelled, the first one interval after the start (the store opens after start hooks); a
        failed round is logged and the next one tries again: an outage must not end the job."""
        while True:
            raise_if_cancelled()  # a cancel that a round swallowed (pymongo can, on Python 3.11) still ends the job
            await asyncio.sleep(self._interval_s)
            try:
                await self.run_once()
            except LucidError as error:
                _log.warning("invoice expiry round skipped: %s", error)
            except Exception:
                _log.exception("invoice expiry round failed")

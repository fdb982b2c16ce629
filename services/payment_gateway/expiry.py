"""The expiry job: moves PENDING invoices past their expiry to EXPIRED, on one replica at a time (a lease).

Each change is still conditional on the invoice's sequence (`store.apply`), so a former lease holder that wakes up
late, or a payment seen at the same moment, cannot make an invoice expire twice or expire over a payment.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from lucid_tron.errors import LucidError
from lucid_tron.storage import Lease, LeaseLost, Leases

from .invoices import Invoices
from lucid_tron.storage import utc_now

LEASE = "invoice-expiry"

_log = logging.getLogger("lucid_tron.services.payment_gateway.expiry")


class ExpiryJob:
    """Every `interval_s`, while holding the lease, expires the invoices that are due."""

    def __init__(self, invoices: Invoices, leases: Callable[[], Leases], *, interval_s: float) -> None:
        # A factory: the store opens only after the start hooks that create this job.
        self._leases = leases
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
        return await self._invoices.expire_due(utc_now())

    async def run(self) -> None:
        """Rounds until cancelled, the first one interval after the start (the store opens after start hooks); a
        failed round is logged and the next one tries again: an outage must not end the job."""
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.run_once()
            except LucidError as error:
                _log.warning("invoice expiry round skipped: %s", error)
            except Exception:
                _log.exception("invoice expiry round failed")

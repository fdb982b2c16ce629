"""Deposit addresses: fresh HD addresses of the payment wallet, derived by wallet-manager in batches ahead of need.

Why a batch: CreateInvoice is the checkout's hot path, and one DeriveAddress per invoice was a call to another
service and three durable writes there, a third of CreateInvoice's cost. One DeriveAddresses(count) reserves and
records a batch in three writes. The gateway still holds no key: only addresses and their indexes.

Each address is handed out once: wallet-manager never derives an index twice, and the pool pops it. An address goes
back only when it was never shown (its invoice's transaction was refused). The ones held when the process stops
stay unused; that costs nothing, as an HD wallet of invoices has gaps anyway (most invoices expire unpaid), so its
funds are found from wallet-manager's records of derived addresses, never by scanning up to a gap limit.

The next batch is asked for when the pool runs low, in the background, so CreateInvoice waits on wallet-manager only
when the pool is empty: then a wallet-manager that is down fails it fast (UNAVAILABLE), nothing half-created.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from lucid_tron.context import deadlines

_log = logging.getLogger("lucid_tron.services.payment_gateway.deposit_addresses")

#: How long one DeriveAddresses may take when no caller waits on it (a refill ahead of need).
_REFILL_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class DepositAddress:
    address: str
    index: int


class DepositAddresses:
    """A pool of fresh deposit addresses, refilled `batch` at a time by `derive(count)` when it holds fewer than
    half a batch."""

    def __init__(self, derive: Callable[[int], Awaitable[list[DepositAddress]]], batch: int) -> None:
        self._derive = derive
        self._batch = batch
        self._ready: deque[DepositAddress] = deque()
        self._refilling: asyncio.Task[None] | None = None

    async def take(self) -> DepositAddress:
        """A fresh address. Waits for a batch when none is ready, and raises what deriving it raised."""
        while not self._ready:
            await asyncio.shield(self._refill())
        address = self._ready.popleft()
        if len(self._ready) < self._batch // 2:
            self._refill()
        return address

    def give_back(self, address: DepositAddress) -> None:
        """Return an address that was never shown to anyone, to be handed out next."""
        self._ready.appendleft(address)

    def _refill(self) -> asyncio.Task[None]:
        """The batch being derived, started now if none is."""
        if self._refilling is None or self._refilling.done():
            # Its own context: a refill outlives the request that started it and must not inherit its deadline.
            self._refilling = asyncio.create_task(self._derive_batch(), context=contextvars.Context())
            self._refilling.add_done_callback(_log_failure)
        return self._refilling

    async def _derive_batch(self) -> None:
        with deadlines.within(_REFILL_TIMEOUT_S):
            self._ready.extend(await self._derive(self._batch))


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _log.warning("could not derive deposit addresses ahead of need", exc_info=task.exception())

"""Single-flight: concurrent identical reads share one TronGrid request.

Within one process only. Across relay instances the Redis cache deduplicates reads that come one after another;
identical reads that miss the cache at the same moment on N instances cost at most N requests (one per instance).
A cross-instance lock would put a Redis round trip and a wait on every miss, for little quota saved.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable, Coroutine, Hashable
from functools import partial
from typing import Any, Generic, TypeVar

__all__ = ["SingleFlight"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_log = logging.getLogger("lucid_tron.services.tron_relay.coalesce")


class SingleFlight(Generic[K, V]):
    """At most one running task per key; callers that arrive while it runs get the same task.

    The task runs in a fresh context, not the first caller's: it must not inherit that caller's deadline (a caller
    with 100 ms left would cut the read short for every other caller that joined it). The work sets its own bound.
    A caller that stops waiting (deadline, cancellation) leaves the task running for the others, so callers await
    it through `asyncio.shield`.
    """

    def __init__(self) -> None:
        self._flights: dict[K, asyncio.Task[V]] = {}
        #: Tasks started, and callers that joined a running one (how much coalescing saved).
        self.started = 0
        self.joined = 0

    def __len__(self) -> int:
        return len(self._flights)

    def start(self, key: K, work: Callable[[], Coroutine[Any, Any, V]]) -> asyncio.Task[V]:
        """The running task for `key`, or a new one running `work()`."""
        task = self._flights.get(key)
        if task is not None:
            self.joined += 1
            return task
        task = asyncio.get_running_loop().create_task(work(), context=contextvars.Context())
        self._flights[key] = task
        self.started += 1
        task.add_done_callback(partial(self._landed, key))
        return task

    def _landed(self, key: K, task: asyncio.Task[V]) -> None:
        if self._flights.get(key) is task:
            del self._flights[key]
        if not task.cancelled() and task.exception() is not None:
            # Retrieved here so that a flight nobody waits for any more is not reported as never retrieved;
            # the callers that waited have their copy of the error.
            _log.debug("flight %r failed: %r", key, task.exception())

    async def close(self) -> None:
        """Cancel every running task and wait for them (at shutdown)."""
        tasks = list(self._flights.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

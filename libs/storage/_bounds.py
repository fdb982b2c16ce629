"""Every MongoDB query bounded by the caller's deadline, and its failures turned into `Unavailable`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pymongo

from lucid_tron.context import deadlines

from ._errors import map_storage_errors

__all__ = ["DEFAULT_QUERY_TIMEOUT_S", "bounded"]

#: The bound of a query that runs without a caller's deadline (a background job, a start-up task). Without any
#: bound pymongo waits on a hung server until the socket timeout, then retries: ~7 s measured.
DEFAULT_QUERY_TIMEOUT_S = 2.0


@contextmanager
def bounded(default_s: float = DEFAULT_QUERY_TIMEOUT_S) -> Iterator[None]:
    """Run the MongoDB operations of the block within the current deadline (minus the context's margin), or
    within `default_s` when there is none; nested blocks only ever shorten the bound (pymongo keeps the sooner).

    A server that does not answer in time (dead, hung or slow) raises `Unavailable` (MONGO_UNAVAILABLE);
    `DeadlineExceeded` when the deadline leaves no time to start. The bound covers pymongo's retries, server
    selection and a transaction's commit: `pymongo.timeout()` is the driver's client-side operation timeout.
    """
    seconds = deadlines.timeout(default_s)
    with map_storage_errors(), pymongo.timeout(seconds):
        yield

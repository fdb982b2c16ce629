"""One MongoDB transaction around a piece of work with the write concern money state needs; time and JSON as stored."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.mongo_client import AsyncMongoClient

from ._mongo import DURABLE_WRITES

__all__ = ["TRANSACTION_CAUSAL_CONSISTENCY", "canonical_json", "in_transaction", "utc_now"]

T = TypeVar("T")

#: Transaction sessions read and write the primary only, so causal consistency buys nothing there; off, a retried
#: transaction's first command carries no readConcern {afterClusterTime}, which SecantusDB (the test server)
#: refuses on a bulkWrite (write_together) though mongod 8 takes it.
TRANSACTION_CAUSAL_CONSISTENCY = False


async def in_transaction(
    client: AsyncMongoClient[Any], work: Callable[[AsyncClientSession], Awaitable[T]]
) -> T:
    """Run `work(session)` in one transaction committed with DURABLE_WRITES; every write in it passes the session.

    pymongo retries the whole of `work` on a transient error (a write conflict with a concurrent transaction) and
    the commit on an unknown result, so `work` must do nothing but database writes through the session. Run it
    inside `bounded()` (or a store's `bounded()`): the bound covers the retries.
    """
    async with client.start_session(causal_consistency=TRANSACTION_CAUSAL_CONSISTENCY) as session:
        return await session.with_transaction(work, write_concern=DURABLE_WRITES)


def utc_now() -> datetime:
    """Now, to MongoDB's precision (milliseconds), so a time written and read back compares equal."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def canonical_json(value: Any) -> bytes:
    """One encoding per value, for hashing: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

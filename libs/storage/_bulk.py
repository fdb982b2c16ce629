"""The writes of one transaction in one round trip: MongoDB 8's client-level bulkWrite, which writes to several
collections at once; on older servers (4.4 to 7.x) the same writes one command each, with the same results.

    async def create(session):
        await write_together(db, session, [Insert("payouts", payout), Insert("outbox", event)])

Why: a create that writes a record, its event and its idempotency key paid one round trip per document plus the
commit; on a Raspberry Pi each is a context switch through MongoDB's network stack, and the test server (SecantusDB)
charges every command about what a durable insert costs. Writes stay ordered: the first failing one ends the batch
and, inside a transaction, the transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import InsertOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ClientBulkWriteException, DuplicateKeyError, OperationFailure

__all__ = ["Insert", "Update", "Write", "write_together"]

#: The first wire version with the client-level bulkWrite command (MongoDB 8.0).
_BULK_WRITE_WIRE_VERSION = 25
_DUPLICATE_KEY = 11000


@dataclass(frozen=True)
class Insert:
    """Insert `document` into `collection`."""

    collection: str
    document: Mapping[str, Any]


@dataclass(frozen=True)
class Update:
    """Update the first document of `collection` matching `filter` (`upsert`: insert it when none matches)."""

    collection: str
    filter: Mapping[str, Any]
    update: Mapping[str, Any]
    upsert: bool = False


Write = Insert | Update


async def write_together(db: AsyncDatabase[Any], session: AsyncClientSession, writes: Sequence[Write]) -> list[int]:
    """Run `writes` in order in `session` (its transaction); how many documents each matched (1 for an insert, 0 for
    an upsert that inserted).

    A write that collides with a unique index raises DuplicateKeyError, as a single write does, with the write's
    position in `writes` as `details["writeIndex"]`; other errors raise as pymongo raises them, their error labels
    kept (so that a transaction retries on TransientTransactionError)."""
    if not writes:
        return []
    if _bulk_write_supported(db):
        return await _bulk(db, session, writes)
    return [await _one(db, session, position, write) for position, write in enumerate(writes)]


def _bulk_write_supported(db: AsyncDatabase[Any]) -> bool:
    servers = db.client.topology_description.server_descriptions().values()
    versions = [server.max_wire_version for server in servers if server.is_writable]
    return bool(versions) and min(versions) >= _BULK_WRITE_WIRE_VERSION


async def _bulk(db: AsyncDatabase[Any], session: AsyncClientSession, writes: Sequence[Write]) -> list[int]:
    prefix = f"{db.name}."
    operations: list[InsertOne[Any] | UpdateOne] = [
        InsertOne(dict(write.document), namespace=prefix + write.collection) if isinstance(write, Insert)
        else UpdateOne(dict(write.filter), dict(write.update), upsert=write.upsert,
                       namespace=prefix + write.collection)
        for write in writes
    ]
    try:
        result = await db.client.bulk_write(operations, session=session, ordered=True, verbose_results=True)
    except ClientBulkWriteException as failed:
        top = failed.error
        if isinstance(top, BaseException):
            raise top from None
        if isinstance(top, Mapping):
            # The server's reply to the whole command (a write conflict in a transaction): raised as any command's
            # failure, with its error labels.
            raise OperationFailure(top.get("errmsg", "bulkWrite failed"), top.get("code"), dict(top)) from None
        for error in failed.write_errors or []:
            if error.get("code") == _DUPLICATE_KEY:
                raise DuplicateKeyError(error.get("errmsg", "duplicate key"), _DUPLICATE_KEY,
                                        {**error, "writeIndex": error.get("idx")}) from None
        raise
    updates = result.update_results
    return [1 if isinstance(write, Insert) else updates[position].matched_count for position, write in enumerate(writes)]


async def _one(db: AsyncDatabase[Any], session: AsyncClientSession, position: int, write: Write) -> int:
    collection = db.get_collection(write.collection)
    try:
        if isinstance(write, Insert):
            await collection.insert_one(dict(write.document), session=session)
            return 1
        updated = await collection.update_one(dict(write.filter), dict(write.update), upsert=write.upsert,
                                              session=session)
        return updated.matched_count
    except DuplicateKeyError as error:
        raise DuplicateKeyError(str(error), _DUPLICATE_KEY, {**(error.details or {}), "writeIndex": position}) from None

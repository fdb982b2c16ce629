"""Hash-chained audit log: who did what, in an order that cannot be changed unnoticed.

Entry n carries sha256 of entry n-1 and its own hash over a canonical encoding of (seq, prev_hash, principal,
action, details, time), so changing, deleting or reordering any entry breaks the chain at that point, and
`verify()` names the first broken link. The sequence number is the `_id` and each hash may have one successor
(a unique index), so concurrent appends cannot fork the chain: the loser of a race retries on the new head.

The chain proves the log was not changed in its middle; removing entries from its end leaves a shorter valid chain.
Record the head (`AuditEntry.hash`) somewhere else (a log line, a signed report) to detect that.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pymongo import DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from ._bounds import bounded
from ._mongo import DURABLE_WRITES
from ._transactions import canonical_json, utc_now

__all__ = ["GENESIS_HASH", "AuditEntry", "AuditLog", "BrokenLink"]

#: The `prev_hash` of the first entry.
GENESIS_HASH = "0" * 64

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    principal: str
    action: str
    details: Mapping[str, Any]
    at: datetime
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class BrokenLink:
    """The first entry at which the chain does not hold, and how."""

    seq: int
    problem: str


class AuditLog:
    """One service's audit log in one (durable) collection."""

    COLLECTION: ClassVar[str] = "audit_log"
    #: For a store's `indexes`: one successor per entry, so two appends racing on the same head cannot both land.
    INDEXES: ClassVar[Mapping[str, list[IndexModel]]] = {
        COLLECTION: [IndexModel("prev_hash", unique=True, name="one_successor")]
    }

    def __init__(self, collection: AsyncCollection[Any]) -> None:
        self._entries = collection
        # The head this process last appended: the next append builds on it without reading it back first. Another
        # writer having appended since only costs a retry (the unique prev_hash refuses the fork).
        self._head: tuple[int, str] | None = None

    @classmethod
    def in_database(cls, db: AsyncDatabase[Any]) -> AuditLog:
        """The audit log in `db`'s COLLECTION, written with DURABLE_WRITES."""
        return cls(db.get_collection(cls.COLLECTION, write_concern=DURABLE_WRITES))

    async def append(self, principal: str, action: str, details: Mapping[str, Any]) -> AuditEntry:
        """Add an entry for what `principal` (the caller's identity) did. `details` holds JSON values (integers
        for amounts, never a key or a secret): they are hashed as canonical JSON."""
        with bounded():
            while True:
                if self._head is None:
                    head = await self._entries.find_one(sort=[("_id", DESCENDING)])
                    self._head = (0, GENESIS_HASH) if head is None else (head["_id"], head["hash"])
                seq, prev_hash = self._head[0] + 1, self._head[1]
                at = utc_now()
                entry_hash = _entry_hash(seq, prev_hash, principal, action, details, at)
                try:
                    await self._entries.insert_one(
                        {
                            "_id": seq,
                            "prev_hash": prev_hash,
                            "principal": principal,
                            "action": action,
                            "details": dict(details),
                            "at": at,
                            "hash": entry_hash,
                        }
                    )
                except DuplicateKeyError:
                    self._head = None  # another append took this place in the chain: build on the new head
                    continue
                self._head = (seq, entry_hash)
                return AuditEntry(seq, principal, action, details, at, prev_hash, entry_hash)

    async def verify(self) -> BrokenLink | None:
        """Walk the chain from the first entry; None when every link holds, else the first broken one."""
        expected_seq, prev_hash = 1, GENESIS_HASH
        with bounded():
            async for doc in self._entries.find().sort("_id"):
                if doc["_id"] != expected_seq:
                    return BrokenLink(expected_seq, "entry missing")
                if doc["prev_hash"] != prev_hash:
                    return BrokenLink(expected_seq, "does not follow the entry before it")
                recomputed = _entry_hash(
                    doc["_id"], doc["prev_hash"], doc["principal"], doc["action"], doc["details"], doc["at"]
                )
                if recomputed != doc["hash"]:
                    return BrokenLink(expected_seq, "entry modified")
                expected_seq, prev_hash = expected_seq + 1, doc["hash"]
        return None


def _entry_hash(
    seq: int, prev_hash: str, principal: str, action: str, details: Mapping[str, Any], at: datetime
) -> str:
    canonical = canonical_json(
        {
            "seq": seq,
            "prev_hash": prev_hash,
            "principal": principal,
            "action": action,
            "details": details,
            "at_ms": (at - _EPOCH) // timedelta(milliseconds=1),
        }
    )
    return hashlib.sha256(canonical).hexdigest()

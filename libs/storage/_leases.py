"""Leases for single-worker jobs (the chain watcher, the payout executor), with fencing tokens.

    leases = Leases.in_database(store.db, owner=f"{host}:{pid}", ttl_s=10)
    lease = await leases.acquire("payout-executor")          # None: another worker holds it
    await leases.fenced(lease, lambda session: payouts.update_one(..., session=session))
    lease = await leases.renew(lease)                        # well before ttl_s has passed

A lease alone cannot stop a worker that was paused (SIGSTOP, a long GC, a frozen VM) from writing after its lease
expired and another worker took over: it does not know that time passed. So every acquisition increments the
lease's fencing token, and every write of the job goes through `fenced()`, which in the same transaction checks
that the token is still the newest. A former holder's write then fails with LeaseLost instead of landing.

A holder killed inside a fenced transaction leaves the documents it wrote (the lease's included) locked until the
server ends the transaction: 60 s on mongod (transactionLifetimeLimitSeconds), and on SecantusDB only when another
transaction statement reaches it. So the lease document lists the sessions its holder's fenced transactions run in,
and whoever takes an expired lease over first ends those sessions (killSessions): the job goes on at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

from uuid import UUID

from bson.binary import Binary
from pymongo import IndexModel, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from lucid_tron.errors import Aborted

from ._bounds import bounded
from ._mongo import DURABLE_WRITES
from ._transactions import TRANSACTION_CAUSAL_CONSISTENCY, utc_now

__all__ = ["LEASE_LOST", "Lease", "LeaseLost", "Leases"]

LEASE_LOST = "LEASE_LOST"
_RELEASED = datetime(1970, 1, 1, tzinfo=UTC)

T = TypeVar("T")


class LeaseLost(Aborted):
    """The lease was taken over by another worker (a newer fencing token exists): stop the job's work."""

    reason = LEASE_LOST


@dataclass(frozen=True)
class Lease:
    """A held lease: `token` is its fencing token, larger than every earlier holder's."""

    name: str
    owner: str
    token: int
    expires_at: datetime


class Leases:
    """Leases of one owner (this worker), in one collection holding one document per lease name."""

    COLLECTION: ClassVar[str] = "leases"
    #: For a store's `indexes`: a lease is found by its name, the `_id`, so no other index.
    INDEXES: ClassVar[Mapping[str, list[IndexModel]]] = {COLLECTION: []}

    def __init__(self, collection: AsyncCollection[Any], *, owner: str, ttl_s: float) -> None:
        self._leases = collection
        self._owner = owner
        self._ttl = timedelta(seconds=ttl_s)
        # (lease name, token) -> the ids of the sessions the lease document lists for this owner (see `fenced`).
        self._sessions_listed: dict[tuple[str, int], set[bytes]] = {}

    @classmethod
    def in_database(cls, db: AsyncDatabase[Any], *, owner: str, ttl_s: float) -> Leases:
        """The leases in `db`'s COLLECTION, written with DURABLE_WRITES."""
        return cls(db.get_collection(cls.COLLECTION, write_concern=DURABLE_WRITES), owner=owner, ttl_s=ttl_s)

    @property
    def ttl_s(self) -> float:
        """How long an acquisition or renewal holds a lease, in seconds."""
        return self._ttl.total_seconds()

    async def acquire(self, name: str) -> Lease | None:
        """Take the lease `name` if nobody holds it (never held, released or expired), with a new fencing token;
        None while another worker (or this one: use `renew`) holds it."""
        await self._end_abandoned(name)
        now = utc_now()
        with bounded():
            try:
                held = await self._leases.find_one_and_update(
                    {"_id": name, "expires_at": {"$lte": now}},
                    {"$set": {"owner": self._owner, "expires_at": now + self._ttl}, "$inc": {"token": 1}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                return None  # it exists and is held: the upsert's insert collided with it
        return _lease_of(held)

    async def renew(self, lease: Lease) -> Lease:
        """Extend a held lease by `ttl_s` from now. Raises LeaseLost when another worker acquired it since, or when
        it was released: a renewal sent before a release can reach the server after it (another connection), and
        must not take back what the holder gave up."""
        with bounded():
            held = await self._leases.find_one_and_update(
                {"_id": lease.name, "token": lease.token, "expires_at": {"$gt": _RELEASED}},
                {"$set": {"expires_at": utc_now() + self._ttl}},
                return_document=ReturnDocument.AFTER,
            )
        if held is None:
            raise LeaseLost(f"lease {lease.name!r} was taken over or released")
        return _lease_of(held)

    async def release(self, lease: Lease) -> None:
        """Give the lease up so another worker can take it at once; the token stays, so fencing still holds."""
        with bounded():
            await self._leases.update_one(
                {"_id": lease.name, "token": lease.token}, {"$set": {"expires_at": _RELEASED}}
            )

    async def fenced(self, lease: Lease, work: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
        """Run the job's writes `work(session)` in one transaction that commits only if `lease` is still the newest
        holder of its name; raises LeaseLost otherwise, and nothing of `work` is written.

        The check is a write to the lease document at the end of the transaction: a takeover committed at any time
        since the transaction began conflicts with it, so the transaction is retried, finds the new token and raises.
        Being last, it holds the lease document only for the commit's round trip. The session's id is listed on
        the lease document before its first transaction (once per session and token: the pool reuses a handful),
        so that a holder killed inside the transaction has it ended by the next one (`acquire`).
        """

        async def checked(session: AsyncClientSession) -> T:
            result = await work(session)
            current = await self._leases.update_one(
                {"_id": lease.name, "token": lease.token}, {"$set": {"fenced_at": utc_now()}}, session=session
            )
            if current.matched_count == 0:
                raise LeaseLost(f"lease {lease.name!r} was taken over; write refused")
            return result

        with bounded():
            async with self._leases.database.client.start_session(
                causal_consistency=TRANSACTION_CAUSAL_CONSISTENCY
            ) as session:
                await self._list_session(lease, session)
                return await session.with_transaction(checked, write_concern=DURABLE_WRITES)

    async def _list_session(self, lease: Lease, session: AsyncClientSession) -> None:
        lsid = session.session_id
        listed = self._sessions_listed.setdefault((lease.name, lease.token), set())
        if bytes(lsid["id"]) in listed:
            return
        # A token's first session replaces the list: the former holders' sessions were ended on the takeover.
        update = {"$addToSet": {"sessions": lsid}} if listed else {"$set": {"sessions": [lsid]}}
        await self._leases.update_one({"_id": lease.name, "token": lease.token}, update)
        listed.add(bytes(lsid["id"]))

    async def _end_abandoned(self, name: str) -> None:
        """End the transactions an expired lease's former holder may have left open (killSessions on the sessions
        its `fenced` listed), so what they locked is free before the lease is taken over."""
        with bounded():
            held = await self._leases.find_one({"_id": name}, {"owner": 1, "expires_at": 1, "sessions": 1})
            if (held is None or held["owner"] == self._owner or not held.get("sessions")
                    or held["expires_at"].replace(tzinfo=UTC) > utc_now()
                    or held["expires_at"].replace(tzinfo=UTC) == _RELEASED):
                return
            # Read back, a session id's UUID comes as uuid.UUID, which the client does not encode implicitly.
            sessions = [{"id": Binary.from_uuid(listed["id"]) if isinstance(listed["id"], UUID) else listed["id"]}
                        for listed in held["sessions"]]
            await self._leases.database.client.admin.command("killSessions", sessions)


def _lease_of(document: Mapping[str, Any]) -> Lease:
    return Lease(document["_id"], document["owner"], document["token"], document["expires_at"])

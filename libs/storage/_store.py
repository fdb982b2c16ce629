"""`MongoStore`: the base of every service's `store.py` (the repository pattern).

A service's store subclasses it, declares the indexes its collections need and offers methods named for the
domain (`record_payout`, `invoice_by_address`); nothing above the store sees a collection or a query. Each method
runs its queries inside `self.bounded()`, so a hung MongoDB costs a request its remaining deadline, not ~7 s, and
answers `Unavailable`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import ClassVar

from pymongo import IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.asynchronous.mongo_client import AsyncMongoClient

from lucid_tron.errors import Unavailable

from ._bounds import DEFAULT_QUERY_TIMEOUT_S, bounded
from ._mongo import DURABLE_WRITES, Document, connect_mongo, ensure_indexes, mongo_ping
from ._settings import MongoSettings

__all__ = ["MongoStore"]

_log = logging.getLogger("lucid_tron.storage")


class MongoStore:
    """A service's MongoDB: one client, its database, its indexes, its health.

        class PayoutStore(MongoStore):
            indexes = {"payouts": [IndexModel("request_id", unique=True)]}

        store = PayoutStore(settings, app_name="payout-router", default_database="lucid_payout_router")
        await store.open()          # at start; MongoDB may still be down
        ...                         # store.ping() is the "mongo" health check
        await store.close()         # at stop

    A service starts even when MongoDB is down: `open()` defers the indexes and the first `ping()` that
    succeeds ensures them, so the service reports itself NOT_SERVING until then rather than crash-looping.
    An index that conflicts with an existing one (changed options) is a migration to do by hand: `open()`
    raises it when MongoDB answers, `ping()` logs it and stays False.
    """

    #: collection -> the indexes it needs, ensured at start (idempotent).
    indexes: ClassVar[Mapping[str, Sequence[IndexModel]]] = {}
    #: The bound of a query run without a caller's deadline.
    query_timeout_s: ClassVar[float] = DEFAULT_QUERY_TIMEOUT_S
    #: How long a health probe waits for MongoDB's answer.
    ping_timeout_s: ClassVar[float] = 1.0

    def __init__(self, settings: MongoSettings, *, app_name: str, default_database: str) -> None:
        self._url = settings.mongo_url
        self._database_name = settings.mongo_database or default_database
        self._app_name = app_name
        self._client: AsyncMongoClient[Document] | None = None
        self._db: AsyncDatabase[Document] | None = None
        self._indexes_ensured = False
        self._ensuring = asyncio.Lock()

    async def open(self) -> None:
        """Create the client (no I/O) and ensure the indexes if MongoDB answers; a MongoDB that is down is
        logged, not raised: the indexes wait for the first successful `ping()`."""
        self._client, self._db = connect_mongo(self._url, self._database_name, app_name=self._app_name)
        # A short probe first: a MongoDB that is down delays the start by `ping_timeout_s`, not by a query bound.
        if await mongo_ping(self._client, timeout_s=self.ping_timeout_s):
            try:
                await self._ensure_indexes()
                return
            except Unavailable:
                pass
        _log.warning(
            "MongoDB did not answer at start; indexes deferred until it does", extra={"database": self._database_name}
        )

    async def ping(self) -> bool:
        """True when MongoDB answers and the indexes are in place. Never raises."""
        if self._client is None or not await mongo_ping(self._client, timeout_s=self.ping_timeout_s):
            return False
        if self._indexes_ensured:
            return True
        try:
            await self._ensure_indexes()
        except Exception:
            _log.exception("cannot ensure the indexes of %s", self._database_name)
            return False
        return True

    async def close(self) -> None:
        """Close the client; safe when `open()` never ran and when called twice."""
        client, self._client, self._db = self._client, None, None
        if client is not None:
            await client.close()

    def bounded(self) -> AbstractContextManager[None]:
        """The bound every query of the store runs in: the caller's remaining deadline, or `query_timeout_s`.

        Raises `Unavailable` (MONGO_UNAVAILABLE) when MongoDB cannot answer in time."""
        return bounded(self.query_timeout_s)

    @property
    def db(self) -> AsyncDatabase[Document]:
        """The service's database; only after `open()`."""
        if self._db is None:
            raise RuntimeError(f"{type(self).__name__} is not open: call open() first")
        return self._db

    def collection(self, name: str, *, durable: bool = False) -> AsyncCollection[Document]:
        """A collection of the database; `durable=True` for money state: writes acknowledged only once journaled
        on a majority (DURABLE_WRITES), so a crash right after the reply loses nothing."""
        return self.db.get_collection(name, write_concern=DURABLE_WRITES if durable else None)

    async def _ensure_indexes(self) -> None:
        async with self._ensuring:
            if not self._indexes_ensured:
                with self.bounded():
                    await ensure_indexes(self.db, self.indexes)
                self._indexes_ensured = True

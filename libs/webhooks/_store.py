"""The MongoDB side of webhooks, in the database of the service that sends them: endpoints, the events they are
sent, and one delivery per (endpoint, event) or redelivery, with every attempt.

The hosting service's store declares `WebhookStore.INDEXES` among its own and hands itself over
(`WebhookStore(store)`); collections are reached through it, so they follow its `open()` and its bounds.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from lucid_tron.storage import MongoStore

__all__ = ["WebhookStore"]

Document = dict[str, Any]

ENDPOINTS = "webhook_endpoints"
EVENTS = "webhook_events"
DELIVERIES = "webhook_deliveries"

PENDING = "PENDING"
SUCCEEDED = "SUCCEEDED"
DEAD_LETTER = "DEAD_LETTER"

#: How long events and deliveries are kept (for ListWebhookDeliveries and redeliveries) before a TTL index removes
#: them: far beyond the default retry schedule (12 attempts at most an hour apart); a delivery still pending then
#: (an endpoint disabled for a month) goes with it.
RETENTION_S = 30 * 24 * 3600

#: The fields an endpoint read never returns.
_SECRETS = {"secret": 0, "previous_secret": 0}


class WebhookStore:
    """Endpoints ("whe_<ObjectId>", oldest first), events by id, deliveries ("whd_<ObjectId>", newest first), each
    delivery unique by its `key`: "<endpoint>/<event>" when fanned out, so a fan-out repeated after a crash adds
    nothing; a redelivery's key adds its own id."""

    INDEXES: ClassVar[Mapping[str, Sequence[IndexModel]]] = {
        ENDPOINTS: [],
        EVENTS: [IndexModel("created_at", expireAfterSeconds=RETENTION_S, name="expire")],
        DELIVERIES: [
            IndexModel("created_at", expireAfterSeconds=RETENTION_S, name="expire"),
            IndexModel("key", unique=True, name="key"),
            IndexModel([("state", ASCENDING), ("next_attempt_at", ASCENDING)], name="due"),
            IndexModel([("endpoint_id", ASCENDING), ("_id", DESCENDING)], name="by_endpoint"),
        ],
    }

    def __init__(self, host: MongoStore) -> None:
        self._host = host
        # (monotonic time read, endpoints) of `enabled_endpoints(reuse_s=...)`; dropped by every change made here.
        self._enabled: tuple[float, list[Document]] | None = None
        # Counts those changes, so that a read that overlapped one is not kept.
        self._changes = 0

    # -- endpoints ----------------------------------------------------------------------------------------------

    async def insert_endpoint(self, endpoint: Document, *, session: AsyncClientSession | None = None) -> None:
        """Insert an endpoint (in `session`'s transaction: call `endpoints_changed` after its commit too)."""
        with self._host.bounded():
            await self._host.collection(ENDPOINTS, durable=True).insert_one(endpoint, session=session)
        self.endpoints_changed()

    def endpoints_changed(self) -> None:
        """Forget the enabled endpoints read last (`enabled_endpoints(reuse_s=...)`): one was changed."""
        self._enabled = None
        self._changes += 1

    async def endpoint(self, endpoint_id: str, *, with_secrets: bool = False) -> Document | None:
        with self._host.bounded():
            return await self._host.collection(ENDPOINTS).find_one(
                {"_id": endpoint_id}, None if with_secrets else _SECRETS
            )

    async def endpoints(self, after_id: str | None, limit: int) -> list[Document]:
        query = {} if after_id is None else {"_id": {"$gt": after_id}}
        with self._host.bounded():
            cursor = self._host.collection(ENDPOINTS).find(query, _SECRETS).sort("_id", ASCENDING).limit(limit)
            return await cursor.to_list()

    async def enabled_endpoints(self, *, reuse_s: float = 0.0) -> list[Document]:
        """Every endpoint that is not disabled, with its secrets: what deliveries are made to. `reuse_s`: the
        previous read when it is at most that old and no endpoint was changed through this store since (another
        replica's changes show after at most `reuse_s`)."""
        now = time.monotonic()
        if self._enabled is not None and now - self._enabled[0] <= reuse_s:
            return self._enabled[1]
        changes = self._changes
        with self._host.bounded():
            enabled = await self._host.collection(ENDPOINTS).find({"disabled": False}).to_list()
        if self._changes == changes:
            self._enabled = (now, enabled)
        return enabled

    async def endpoints_secrets(self) -> list[Document]:
        """Every endpoint's id and stored secrets."""
        with self._host.bounded():
            return await self._host.collection(ENDPOINTS).find({}, {field: 1 for field in _SECRETS}).to_list()

    async def replace_secrets(self, endpoint_id: str, stored: Mapping[str, Any], replacing: Mapping[str, Any]) -> bool:
        """Store `replacing` for the secrets still as `stored` (not changed meanwhile); whether they were."""
        with self._host.bounded():
            result = await self._host.collection(ENDPOINTS, durable=True).update_one(
                {"_id": endpoint_id, **stored}, {"$set": dict(replacing)}
            )
        self.endpoints_changed()
        return result.modified_count == 1

    async def update_endpoint(self, endpoint_id: str, etag: str | None, changes: Mapping[str, Any]) -> Document | None:
        """Apply `changes` ($set) to the endpoint at `etag` (any version when None): the endpoint after, or None
        when there is no such endpoint at that version."""
        query: Document = {"_id": endpoint_id}
        if etag is not None:
            query["etag"] = etag
        with self._host.bounded():
            updated = await self._host.collection(ENDPOINTS, durable=True).find_one_and_update(
                query, {"$set": dict(changes)}, projection=_SECRETS, return_document=ReturnDocument.AFTER
            )
        self.endpoints_changed()
        return updated

    async def delete_endpoint(self, endpoint_id: str, etag: str | None, now: datetime) -> bool:
        """Delete the endpoint (at `etag` when given) and dead-letter its pending deliveries; False when there is no
        such endpoint at that version."""
        query: Document = {"_id": endpoint_id}
        if etag is not None:
            query["etag"] = etag
        with self._host.bounded():
            deleted = await self._host.collection(ENDPOINTS, durable=True).delete_one(query)
            self.endpoints_changed()
            if deleted.deleted_count == 0:
                return False
            await self._host.collection(DELIVERIES, durable=True).update_many(
                {"endpoint_id": endpoint_id, "state": PENDING},
                {"$set": {"state": DEAD_LETTER, "error": "endpoint deleted", "next_attempt_at": None,
                          "updated_at": now}},
            )
        return True

    async def count_failure(self, endpoint_id: str) -> int:
        """One more failed attempt in a row; the streak after it (0 when the endpoint is gone)."""
        with self._host.bounded():
            endpoint = await self._host.collection(ENDPOINTS).find_one_and_update(
                {"_id": endpoint_id},
                {"$inc": {"failure_streak": 1}},
                projection={"failure_streak": 1},
                return_document=ReturnDocument.AFTER,
            )
        return 0 if endpoint is None else int(endpoint["failure_streak"])

    async def disable(self, endpoint_id: str, reason: str, etag: str, now: datetime) -> bool:
        """Disable an endpoint that is enabled; False when it was disabled already (or is gone)."""
        with self._host.bounded():
            result = await self._host.collection(ENDPOINTS, durable=True).update_one(
                {"_id": endpoint_id, "disabled": False},
                {"$set": {"disabled": True, "disabled_reason": reason, "etag": etag, "updated_at": now}},
            )
        self.endpoints_changed()
        return result.modified_count == 1

    async def reset_failures(self, endpoint_id: str) -> None:
        with self._host.bounded():
            await self._host.collection(ENDPOINTS).update_one(
                {"_id": endpoint_id, "failure_streak": {"$ne": 0}}, {"$set": {"failure_streak": 0}}
            )

    # -- events and deliveries ----------------------------------------------------------------------------------

    async def record_event(self, event: Document) -> None:
        """Keep the event (for redeliveries); recording it again changes nothing."""
        with self._host.bounded():
            try:
                await self._host.collection(EVENTS, durable=True).insert_one(event)
            except DuplicateKeyError:
                pass

    async def event(self, event_id: str) -> Document | None:
        with self._host.bounded():
            return await self._host.collection(EVENTS).find_one({"_id": event_id})

    async def insert_delivery(self, delivery: Document) -> bool:
        """Add a delivery; False when one with its `key` exists already."""
        with self._host.bounded():
            try:
                await self._host.collection(DELIVERIES, durable=True).insert_one(delivery)
            except DuplicateKeyError:
                return False
        return True

    async def due_deliveries(
        self, endpoint_ids: Collection[str], running: Collection[str], now: datetime, limit: int
    ) -> list[Document]:
        """Up to `limit` pending deliveries to `endpoint_ids`, but not those `running`, whose next attempt is due,
        the longest due first."""
        if not endpoint_ids:
            return []
        query: Document = {
            "state": PENDING,
            "next_attempt_at": {"$lte": now},
            "endpoint_id": {"$in": list(endpoint_ids)},
        }
        if running:
            query["_id"] = {"$nin": list(running)}
        with self._host.bounded():
            cursor = self._host.collection(DELIVERIES).find(query).sort("next_attempt_at", ASCENDING)
            return await cursor.limit(limit).to_list()

    async def record_attempt(self, delivery: Mapping[str, Any], changes: Mapping[str, Any], attempt: Document) -> bool:
        """Record an attempt of a delivery as read (`attempt` count unchanged since): False when another worker
        recorded this attempt first."""
        with self._host.bounded():
            result = await self._host.collection(DELIVERIES, durable=True).update_one(
                {"_id": delivery["_id"], "attempt": delivery["attempt"], "state": PENDING},
                {"$set": dict(changes), "$push": {"attempts": attempt}},
            )
        return result.modified_count == 1

    async def deliveries(
        self, endpoint_id: str, states: Collection[str], event_id: str | None, before_id: str | None, limit: int
    ) -> list[Document]:
        query: Document = {"endpoint_id": endpoint_id}
        if states:
            query["state"] = {"$in": list(states)}
        if event_id is not None:
            query["event_id"] = event_id
        if before_id is not None:
            query["_id"] = {"$lt": before_id}
        with self._host.bounded():
            cursor = self._host.collection(DELIVERIES).find(query, {"body": 0})
            return await cursor.sort([("endpoint_id", ASCENDING), ("_id", DESCENDING)]).limit(limit).to_list()

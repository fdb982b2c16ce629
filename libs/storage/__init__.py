"""Storage for the payment plane: MongoDB (PyMongo's async client) and Redis (redis-py's asyncio client), configured
to fail fast, and the primitives that money state needs.

Settings groups, composed into a service's settings by inheritance:
    MongoSettings (MONGO_URL, MONGO_DATABASE), RedisSettings (REDIS_URL)

A service's MongoDB:
    MongoStore                  base of every service's store.py: indexes ensured at start, ping() health,
                                bounded() puts every query under the caller's deadline, collection(durable=True)
    MoneyStore, MoneyJobStore   a money service's store: + idempotency keys and audit log (+ outbox and leases)
    bounded(default_s)          the same bound outside a store; DEFAULT_QUERY_TIMEOUT_S without a deadline
    in_transaction(client, work)   work(session) in one transaction, committed with DURABLE_WRITES
    write_together(db, session, [Insert(...), Update(...)])   a transaction's writes in one round trip (MongoDB 8's
                                   bulkWrite; one command each on older servers)
    utc_now()                      now, to MongoDB's precision (milliseconds)
    DURABLE_WRITES              WriteConcern(w="majority", j=True) for money state

Primitives (each guarantee is stated in its class docstring):
    IdempotencyKeys, IdempotentCall, request_digest    AIP-155 request_id: replay, reuse refused, in-flight aborted
    embedded_key, embedded_replay                      a claim-free create's key as fields of the record it inserts
    IDEMPOTENCY_KEY_REUSED, REQUEST_IN_FLIGHT, IDEMPOTENCY_CLAIM_LOST   their `reason` codes
    Leases, Lease, LeaseLost, LEASE_LOST               single-worker jobs with fencing tokens
    LeasedJob, Fence, step_each                        a job's rounds on whichever replica holds its lease
    Outbox, OutboxEvent, OutboxDispatcher              state change + event in one transaction, delivered in order
                                                       by whichever dispatcher holds the lease, marks fenced
    AuditLog, AuditEntry, BrokenLink, GENESIS_HASH     hash-chained audit log and its verification

Lower level:
    connect_mongo(url, database, *, app_name)   -> (AsyncMongoClient, AsyncDatabase), fail-fast timeouts
    mongo_ping(client, *, timeout_s)            -> bool, a health probe that never raises for an outage
    ensure_indexes(db, {collection: [IndexModel, ...]})   idempotent, run at service start
    connect_redis(url, *, app_name)             -> redis.asyncio.Redis, fail-fast timeouts, 1 reconnect
    redis_ping(client, *, timeout_s)            -> bool
    map_storage_errors                          context manager / decorator: outage or timeout -> errors.Unavailable
    as_unavailable(exc)                         the Unavailable for a driver exception, or None
    MONGO_UNAVAILABLE, REDIS_UNAVAILABLE        the `reason` codes of those Unavailable errors

Imports are lazy: MongoDB names load only pymongo and Redis names only redis-py, so a service that uses one driver
does not pay for the other in memory (idle RSS <= 60 MB).

Supported MongoDB servers: 4.4 to 8.x (and 9.0), the range of the pinned pymongo 4.20
(`pymongo.common.MIN_SUPPORTED_SERVER_VERSION == "4.4"`, wire versions 9..29; pymongo 4.14 had already
dropped 4.0). A Raspberry Pi 4 runs at most MongoDB 4.4, which is that floor: a pymongo minor release
that drops 4.4 will not connect to it, so Pi 4 deployments must hold pymongo below such a release.
Code must stay within 4.4 features: transactions need a replica set (one node is enough); no
$setWindowFields, time-series collections or other 5.0+ features. Tests run against SecantusDB, which
reports itself as 8.2, so they do not catch a 5.0+ feature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lucid_tron.lazy import lazy_exports

from ._errors import MONGO_UNAVAILABLE, REDIS_UNAVAILABLE, as_unavailable, map_storage_errors
from ._settings import MongoSettings, RedisSettings

if TYPE_CHECKING:
    from ._audit import GENESIS_HASH, AuditEntry, AuditLog, BrokenLink
    from ._bounds import DEFAULT_QUERY_TIMEOUT_S, bounded
    from ._bulk import Insert, Update, Write, write_together
    from ._idempotency import (
        IDEMPOTENCY_CLAIM_LOST,
        IDEMPOTENCY_KEY_REUSED,
        REQUEST_IN_FLIGHT,
        IdempotencyKeys,
        IdempotentCall,
        embedded_key,
        embedded_replay,
        request_digest,
    )
    from ._jobs import Fence, LeasedJob, step_each
    from ._leases import LEASE_LOST, Lease, LeaseLost, Leases
    from ._mongo import DURABLE_WRITES, connect_mongo, ensure_indexes, mongo_ping
    from ._money_stores import MoneyJobStore, MoneyStore
    from ._outbox import Outbox, OutboxDispatcher, OutboxEvent, raise_if_cancelled
    from ._redis import connect_redis, redis_ping
    from ._store import MongoStore
    from ._transactions import in_transaction, utc_now

__all__ = [
    "DEFAULT_QUERY_TIMEOUT_S",
    "DURABLE_WRITES",
    "GENESIS_HASH",
    "IDEMPOTENCY_CLAIM_LOST",
    "IDEMPOTENCY_KEY_REUSED",
    "LEASE_LOST",
    "MONGO_UNAVAILABLE",
    "REDIS_UNAVAILABLE",
    "REQUEST_IN_FLIGHT",
    "AuditEntry",
    "AuditLog",
    "BrokenLink",
    "IdempotencyKeys",
    "Insert",
    "IdempotentCall",
    "Fence",
    "Lease",
    "LeasedJob",
    "LeaseLost",
    "Leases",
    "MongoSettings",
    "MongoStore",
    "MoneyJobStore",
    "MoneyStore",
    "Outbox",
    "OutboxDispatcher",
    "OutboxEvent",
    "raise_if_cancelled",
    "RedisSettings",
    "Update",
    "Write",
    "as_unavailable",
    "bounded",
    "connect_mongo",
    "connect_redis",
    "embedded_key",
    "embedded_replay",
    "ensure_indexes",
    "in_transaction",
    "map_storage_errors",
    "mongo_ping",
    "redis_ping",
    "request_digest",
    "step_each",
    "utc_now",
    "write_together",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "GENESIS_HASH": "._audit",
        "AuditEntry": "._audit",
        "AuditLog": "._audit",
        "BrokenLink": "._audit",
        "DEFAULT_QUERY_TIMEOUT_S": "._bounds",
        "bounded": "._bounds",
        "Insert": "._bulk",
        "Update": "._bulk",
        "Write": "._bulk",
        "write_together": "._bulk",
        "IDEMPOTENCY_CLAIM_LOST": "._idempotency",
        "IDEMPOTENCY_KEY_REUSED": "._idempotency",
        "REQUEST_IN_FLIGHT": "._idempotency",
        "IdempotencyKeys": "._idempotency",
        "IdempotentCall": "._idempotency",
        "request_digest": "._idempotency",
        "embedded_key": "._idempotency",
        "embedded_replay": "._idempotency",
        "Fence": "._jobs",
        "LeasedJob": "._jobs",
        "step_each": "._jobs",
        "LEASE_LOST": "._leases",
        "Lease": "._leases",
        "LeaseLost": "._leases",
        "Leases": "._leases",
        "DURABLE_WRITES": "._mongo",
        "connect_mongo": "._mongo",
        "ensure_indexes": "._mongo",
        "mongo_ping": "._mongo",
        "Outbox": "._outbox",
        "OutboxDispatcher": "._outbox",
        "OutboxEvent": "._outbox",
        "raise_if_cancelled": "._outbox",
        "connect_redis": "._redis",
        "redis_ping": "._redis",
        "MongoStore": "._store",
        "MoneyJobStore": "._money_stores",
        "MoneyStore": "._money_stores",
        "in_transaction": "._transactions",
        "utc_now": "._transactions",
    },
)

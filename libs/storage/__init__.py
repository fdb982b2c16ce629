"""Storage helpers: PyMongo's async client and redis-py's asyncio client, configured to fail fast.

    connect_mongo(url, database, *, app_name)   -> (AsyncMongoClient, AsyncDatabase), fail-fast timeouts
    mongo_ping(client, *, timeout_s)            -> bool, a health probe that never raises for an outage
    ensure_indexes(db, {collection: [IndexModel, ...]})   idempotent, run at service start
    DURABLE_WRITES                              WriteConcern(w="majority", j=True) for money state
    connect_redis(url, *, app_name)             -> redis.asyncio.Redis, fail-fast timeouts, 1 reconnect
    redis_ping(client, *, timeout_s)            -> bool
    map_storage_errors                          context manager / decorator: outage -> errors.Unavailable
    as_unavailable(exc)                         the Unavailable for a driver exception, or None
    MONGO_UNAVAILABLE, REDIS_UNAVAILABLE        the `reason` codes of those Unavailable errors

Imports are lazy: `lucid_tron.storage.mongo` loads only pymongo and `lucid_tron.storage.redis` only
redis-py, so a service that uses one driver does not pay for the other in memory (idle RSS <= 60 MB).

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

if TYPE_CHECKING:
    from .mongo import DURABLE_WRITES, connect_mongo, ensure_indexes, mongo_ping
    from .redis import connect_redis, redis_ping

__all__ = [
    "DURABLE_WRITES",
    "MONGO_UNAVAILABLE",
    "REDIS_UNAVAILABLE",
    "as_unavailable",
    "connect_mongo",
    "connect_redis",
    "ensure_indexes",
    "map_storage_errors",
    "mongo_ping",
    "redis_ping",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "DURABLE_WRITES": ".mongo",
        "connect_mongo": ".mongo",
        "ensure_indexes": ".mongo",
        "mongo_ping": ".mongo",
        "connect_redis": ".redis",
        "redis_ping": ".redis",
    },
)

"""MongoDB through PyMongo's native async client, configured to fail fast.

A request never waits on MongoDB longer than a few seconds: when no server can be selected within
`server_selection_timeout_ms` the operation raises, and `map_storage_errors` turns that into
`Unavailable` (MONGO_UNAVAILABLE). Creating a client does no I/O; the first operation connects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pymongo
from pymongo import AsyncMongoClient, IndexModel, WriteConcern
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from ._errors import map_storage_errors

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT_MS",
    "DEFAULT_HEARTBEAT_FREQUENCY_MS",
    "DEFAULT_SERVER_SELECTION_TIMEOUT_MS",
    "DEFAULT_SOCKET_TIMEOUT_MS",
    "DEFAULT_WAIT_QUEUE_TIMEOUT_MS",
    "DURABLE_WRITES",
    "Document",
    "connect_mongo",
    "ensure_indexes",
    "mongo_ping",
]

Document = dict[str, Any]

#: How long an operation waits for a usable server (pymongo's default is 30 s).
DEFAULT_SERVER_SELECTION_TIMEOUT_MS = 2_000
#: TCP connect plus handshake (pymongo's default is 20 s).
DEFAULT_CONNECT_TIMEOUT_MS = 2_000
#: Longest wait for one reply on an open connection: bounds a hung (not dead) server (default: forever).
DEFAULT_SOCKET_TIMEOUT_MS = 5_000
#: Longest wait for a free pooled connection under load (default: forever).
DEFAULT_WAIT_QUEUE_TIMEOUT_MS = 5_000
#: How often the client checks the server (pymongo's default is 10 s). A retried read goes back to a hung
#: server until a check fails: measured with a SIGSTOPped server, the first read failed after ~12 s with
#: the default and ~7 s with 5 s.
DEFAULT_HEARTBEAT_FREQUENCY_MS = 5_000

#: Write concern for money state, e.g. `db.get_collection("payouts", write_concern=DURABLE_WRITES)`:
#: acknowledged only once journaled on a majority, so a crash right after the reply loses nothing.
#: Explicit `j=True` because not every server journals before acknowledging w="majority": measured on
#: SecantusDB, a SIGKILL lost w=1 writes up to 0.2 s after the reply, w="majority" writes right after it,
#: and no j=True write (6 of 6 kept).
DURABLE_WRITES = WriteConcern(w="majority", j=True)


def connect_mongo(
    url: str,
    database: str | None = None,
    *,
    app_name: str,
    server_selection_timeout_ms: int = DEFAULT_SERVER_SELECTION_TIMEOUT_MS,
    connect_timeout_ms: int = DEFAULT_CONNECT_TIMEOUT_MS,
    socket_timeout_ms: int | None = DEFAULT_SOCKET_TIMEOUT_MS,
    wait_queue_timeout_ms: int | None = DEFAULT_WAIT_QUEUE_TIMEOUT_MS,
    **options: Any,
) -> tuple[AsyncMongoClient[Document], AsyncDatabase[Document]]:
    """A client and its database, with fail-fast timeouts, `tz_aware=True` (datetimes come back in UTC)
    and `uuidRepresentation="standard"` (uuid.UUID values store as BSON UUIDs).

    `database` defaults to the one named in the URL's path. `app_name` shows in the server's logs and
    currentOp. `options` go to `AsyncMongoClient` and win over these defaults (e.g. `retryWrites=False`,
    `maxPoolSize=10`, `timeoutMS=3000` to bound every operation, retries included). To bound one request
    by its gRPC deadline, wrap it in `pymongo.timeout(seconds)`. Close with `await client.close()`.
    """
    settings: dict[str, Any] = {
        "appname": app_name,
        "tz_aware": True,
        "uuidRepresentation": "standard",
        "serverSelectionTimeoutMS": server_selection_timeout_ms,
        "connectTimeoutMS": connect_timeout_ms,
        "socketTimeoutMS": socket_timeout_ms,
        "waitQueueTimeoutMS": wait_queue_timeout_ms,
        "heartbeatFrequencyMS": DEFAULT_HEARTBEAT_FREQUENCY_MS,
    }
    client: AsyncMongoClient[Document] = AsyncMongoClient(url, **{**settings, **options})
    # Without a name here or in the URL, get_default_database raises ConfigurationError.
    db = client[database] if database is not None else client.get_default_database()
    return client, db


async def mongo_ping(client: AsyncMongoClient[Any], *, timeout_s: float = 1.0) -> bool:
    """Health probe: True when the server answers `ping` within `timeout_s` seconds. Never raises for an
    outage, so a health check can call it on every probe."""
    try:
        with pymongo.timeout(timeout_s):
            await client.admin.command("ping")
    except PyMongoError:
        return False
    return True


@map_storage_errors
async def ensure_indexes(db: AsyncDatabase[Any], specs: Mapping[str, Sequence[IndexModel]]) -> None:
    """Create the indexes each collection needs (collection name -> IndexModels); run at service start.

    Idempotent: an index that already exists with the same keys and options is left as it is. An index
    whose name exists with other keys or options raises pymongo's OperationFailure
    (IndexOptionsConflict / IndexKeySpecsConflict): changing an index is a migration, not a restart.
    Raises `Unavailable` when MongoDB cannot be reached.
    """
    for collection, models in specs.items():
        if models:
            await db[collection].create_indexes(list(models))

"""Redis through redis-py's asyncio client, configured to fail fast.

A dead Redis refuses the connection at once; a hung one costs at most `socket_timeout` seconds. Either
way the command raises, and `map_storage_errors` turns that into `Unavailable` (REDIS_UNAVAILABLE).
Redis holds caches, rate limits, locks and pub/sub: never the only copy of money state.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT_S",
    "DEFAULT_RETRIES",
    "DEFAULT_SOCKET_TIMEOUT_S",
    "connect_redis",
    "redis_ping",
]

#: Longest wait for one reply (redis-py's default is 5 s).
DEFAULT_SOCKET_TIMEOUT_S = 2.0
#: TCP connect plus handshake (redis-py's default is 5 s).
DEFAULT_CONNECT_TIMEOUT_S = 1.0
#: One retry on a broken connection, so the first command after a Redis restart reconnects instead of
#: failing (redis-py's default is 10 retries, which turns an outage into seconds of waiting).
DEFAULT_RETRIES = 1
# Only a broken or refused connection is retried: a timeout would double the wait on a hung server.
_RETRIED = (RedisConnectionError,)


def connect_redis(
    url: str,
    *,
    app_name: str,
    socket_timeout: float = DEFAULT_SOCKET_TIMEOUT_S,
    socket_connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S,
    retries: int = DEFAULT_RETRIES,
    **options: Any,
) -> Redis:
    """An asyncio Redis client with fail-fast timeouts. No I/O until the first command.

    `app_name` becomes the connection name (CLIENT LIST). Only connection errors are retried, `retries`
    times with a 10-100 ms backoff; a timeout is not retried, so a hung server costs one `socket_timeout`.
    A command whose reply was lost may have run: retry only idempotent commands, or accept the risk.
    `options` go to `Redis.from_url` as they are (e.g. `decode_responses=True`, `max_connections=32`);
    options in the URL's query string win. Close with `await client.aclose()`.
    """
    return Redis.from_url(
        url,
        client_name=app_name,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_connect_timeout,
        retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), retries, supported_errors=_RETRIED),
        **options,
    )


async def redis_ping(client: Redis, *, timeout_s: float = 1.0) -> bool:
    """Health probe: True when Redis answers PING within `timeout_s` seconds. Never raises for an outage,
    so a health check can call it on every probe."""
    try:
        async with asyncio.timeout(timeout_s):
            return bool(await client.ping())
    except (RedisError, TimeoutError):
        return False

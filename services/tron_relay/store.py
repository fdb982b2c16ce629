"""The relay's Redis: a cache that may be down without the relay failing.

Every Redis error is absorbed here: a read that cannot reach Redis is a miss, a write that cannot is skipped, and
the relay keeps answering from TronGrid (coalesced, uncached). After a failure Redis is left alone for
`retry_after_s`, so a Redis that hangs costs one timeout per interval, not one per read; `check()` (run
periodically) notices when it is back. Every change of state is logged and reported to `on_change`, which the
service turns into its "redis" health status.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

from lucid_tron.storage import connect_redis, redis_ping

__all__ = ["RedisCacheStore"]

_log = logging.getLogger("lucid_tron.services.tron_relay.store")

AvailabilityHook = Callable[[bool, str], Awaitable[None]]


class RedisCacheStore:
    """get / put of opaque bytes with a TTL, never raising for an outage."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 0.25,
        retry_after_s: float = 1.0,
        on_change: AvailabilityHook | None = None,
    ) -> None:
        self._client = connect_redis(
            url, app_name="tron-relay", socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._timeout_s = timeout_s
        self._retry_after_s = retry_after_s
        self._on_change = on_change
        self._skip_until = 0.0
        #: False while Redis is known to be down.
        self.available = True

    async def get(self, key: str) -> bytes | None:
        """The value at `key`, or None when there is none or Redis cannot be reached."""
        if self._skipping():
            return None
        try:
            value = await self._client.get(key)
        except (RedisError, OSError) as error:
            await self._failed(error)
            return None
        await self._succeeded()
        return value

    async def put(self, key: str, value: bytes, ttl_s: float) -> bool:
        """Store `value` for `ttl_s` seconds; skipped when Redis cannot be reached. True when it was stored."""
        if self._skipping():
            return False
        try:
            await self._client.set(key, value, px=max(1, round(ttl_s * 1000)))
        except (RedisError, OSError) as error:
            await self._failed(error)
            return False
        await self._succeeded()
        return True

    async def check(self) -> bool:
        """Ping Redis now and update the state; True when it answers."""
        if await redis_ping(self._client, timeout_s=self._timeout_s * 4):
            await self._succeeded()
            return True
        await self._failed(None)
        return False

    async def close(self) -> None:
        await self._client.aclose()

    def _skipping(self) -> bool:
        return not self.available and time.monotonic() < self._skip_until

    async def _failed(self, error: BaseException | None) -> None:
        self._skip_until = time.monotonic() + self._retry_after_s
        if not self.available:
            return
        self.available = False
        reason = type(error).__name__ if error is not None else "no answer to PING"
        _log.warning(
            "Redis is down (%s): serving uncached reads (still coalesced) until it is back", reason,
            extra={"dependency": "redis"},
        )
        if self._on_change is not None:
            await self._on_change(False, reason)

    async def _succeeded(self) -> None:
        if self.available:
            return
        self.available = True
        _log.info("Redis is back: caching again", extra={"dependency": "redis"})
        if self._on_change is not None:
            await self._on_change(True, "")

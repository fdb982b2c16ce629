"""The settings groups of the storage services: each variable declared once, composed into a service's settings.

    @dataclass(frozen=True, kw_only=True)
    class PayoutRouterSettings(MongoSettings, RedisSettings, ServiceSettings): ...
"""

from __future__ import annotations

from dataclasses import dataclass

from lucid_tron.config import Settings, setting

__all__ = ["MongoSettings", "RedisSettings"]


@dataclass(frozen=True, kw_only=True)
class MongoSettings(Settings):
    """Where a service's MongoDB state lives."""

    # A URL may carry credentials, hence secret: it is also read from a file.
    mongo_url: str = setting("MONGO_URL", secret=True, schemes=("mongodb", "mongodb+srv"))
    # None: the service's own database, `lucid_<service>` (its store knows the name).
    mongo_database: str | None = setting("MONGO_DATABASE", default=None)


@dataclass(frozen=True, kw_only=True)
class RedisSettings(Settings):
    """Where a service's Redis is: caches, locks and pub/sub, never the only copy of money state."""

    # A URL may carry a password, hence secret: it is also read from a file.
    redis_url: str = setting("REDIS_URL", secret=True, schemes=("redis", "rediss"))

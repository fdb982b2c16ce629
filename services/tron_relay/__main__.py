"""tron-relay: `python -m lucid_tron.services.tron_relay`.

Environment: REDIS_URL (required), TRONGRID_URL (required), TRONGRID_API_KEY (secret, optional), the cache TTLs
(CACHE_TTL_*_S, see RelaySettings), the mesh's GRPC_HOST / GRPC_PORT / LOG_*, and Tor's variables
(`tor_proxy.TorSettings`: Tor is required unless USE_TOR_FOR_EXTERNAL_CALLS=false and
ALLOW_DIRECT_EXTERNAL_CALLS=true, which is logged as a WARNING and meant only for a devnet on loopback; while Tor is
required TRONGRID_URL must be https://, or http:// to loopback, a .test name or a .onion service).

Neither Redis nor Tor is needed to answer: with Redis down the relay answers uncached (coalesced) reads, with Tor
(hence TronGrid) down it answers what it has cached, marked stale. So the process stays SERVING and each is reported
as a grpc.health.v1 service of its own, "redis" and "tor" (NOT_SERVING while down, and logged), which
`grpc_health_probe -service=redis` shows without taking the relay out of rotation. Marking the whole process
NOT_SERVING would turn a cache outage into a relay outage: every instance shares the one Redis.
"""

from __future__ import annotations

from dataclasses import dataclass

from lucid_tron.mesh import Health, HealthReporter, ServiceSpec, metrics, run, setting
from lucid_tron.trongrid import TronGridClient, TronGridSettings
from tor_proxy import TorRuntime

from .cache import CachePolicy, ReadThroughCache
from .relay import ChainRelay
from .servicer import RelayServicer, registration
from .store import RedisCacheStore

NAME = "tron-relay"
#: The grpc.health.v1 service names under which the dependencies the relay can do without are reported.
REDIS_HEALTH_NAME = "redis"
TOR_HEALTH_NAME = "tor"


@dataclass(frozen=True, kw_only=True)
class RelaySettings(TronGridSettings):
    # The cache (see the module docstring). A URL may carry a password, hence secret: it is also read from a file.
    redis_url: str = setting("REDIS_URL", secret=True, schemes=("redis", "rediss"))
    head_block_ttl_s: float = setting("CACHE_TTL_HEAD_BLOCK_S", default=1.0, ge=0.001, le=3600)
    solidified_block_ttl_s: float = setting("CACHE_TTL_SOLIDIFIED_BLOCK_S", default=3.0, ge=0.001, le=3600)
    account_ttl_s: float = setting("CACHE_TTL_ACCOUNT_S", default=3.0, ge=0.001, le=3600)
    resources_ttl_s: float = setting("CACHE_TTL_RESOURCES_S", default=3.0, ge=0.001, le=3600)
    head_receipt_ttl_s: float = setting("CACHE_TTL_HEAD_RECEIPT_S", default=3.0, ge=0.001, le=3600)
    solidified_receipt_ttl_s: float = setting(
        "CACHE_TTL_SOLIDIFIED_RECEIPT_S", default=7 * 24 * 3600.0, ge=1, le=365 * 24 * 3600
    )
    not_found_ttl_s: float = setting("CACHE_TTL_NOT_FOUND_S", default=1.0, ge=0.001, le=3600)
    # How long past its TTL an answer is kept to be served, marked stale, while TronGrid cannot be reached.
    stale_for_s: float = setting("CACHE_STALE_FOR_S", default=600.0, ge=1, le=7 * 24 * 3600)
    # Longest a caller with a cached answer waits for TronGrid before getting that answer marked stale.
    refresh_wait_s: float = setting("CACHE_REFRESH_WAIT_S", default=2.0, ge=0.001, le=60)
    # Bound of one shared TronGrid read, retries included (it outlives the caller that started it).
    fetch_timeout_s: float = setting("TRONGRID_FETCH_TIMEOUT_S", default=15.0, ge=0.1, le=120)
    # Redis is on the LAN: a reply slower than this is an outage, and the read goes on without the cache.
    redis_timeout_s: float = setting("REDIS_TIMEOUT_S", default=0.25, ge=0.01, le=10)
    redis_check_interval_s: float = setting("REDIS_CHECK_INTERVAL_S", default=2.0, ge=0.05, le=300)
    # The in-process L1 in front of Redis: how long a decoded entry is kept (never past its kind's TTL; 0 turns the
    # L1 off) and how many. It spares a Redis round trip on hot reads such as the head block.
    local_s: float = setting("CACHE_LOCAL_S", default=0.25, ge=0, le=60)
    local_entries: int = setting("CACHE_LOCAL_ENTRIES", default=1024, ge=1, le=1_000_000)

    @property
    def cache_policy(self) -> CachePolicy:
        return CachePolicy(
            head_block_s=self.head_block_ttl_s,
            solidified_block_s=self.solidified_block_ttl_s,
            account_s=self.account_ttl_s,
            resources_s=self.resources_ttl_s,
            head_receipt_s=self.head_receipt_ttl_s,
            solidified_receipt_s=self.solidified_receipt_ttl_s,
            not_found_s=self.not_found_ttl_s,
            stale_for_s=self.stale_for_s,
            refresh_wait_s=self.refresh_wait_s,
            fetch_timeout_s=self.fetch_timeout_s,
            local_s=self.local_s,
            local_entries=self.local_entries,
        )


def build(settings: RelaySettings) -> ServiceSpec:
    tor = TorRuntime(settings.tor_config)
    metrics.counter_from("lucid_tor_rotations_total", "Tor circuit rotations", lambda: tor.stats.rotations)
    trongrid = TronGridClient(
        settings.trongrid_url, tor.proxy, api_key=settings.trongrid_api_key, timeout_s=settings.trongrid_timeout_s
    )
    metrics.counter_from("lucid_trongrid_requests_total", "HTTP requests sent to TronGrid, retries included",
                         lambda: trongrid.stats.requests)
    metrics.counter_from("lucid_trongrid_throttled_total", "TronGrid answers 429 Too Many Requests",
                         lambda: trongrid.stats.throttled)
    # Made before the process has a Health, because the store reports what it notices between checks.
    redis_status = HealthReporter(REDIS_HEALTH_NAME, soft=True)
    store = RedisCacheStore(
        settings.redis_url,
        timeout_s=settings.redis_timeout_s,
        retry_after_s=settings.redis_check_interval_s,
        on_change=redis_status.set_serving,
    )
    # The TronGrid URL names the network: two networks sharing one Redis never read each other's entries.
    cache = ReadThroughCache(store, settings.cache_policy, namespace=settings.trongrid_url)

    async def start(health: Health) -> None:
        # Tor or Redis down at start is no reason not to start: the relay answers what it can meanwhile.
        await tor.start(health.soft)
        await health.watch(redis_status, store.check, interval_s=settings.redis_check_interval_s)

    async def stop() -> None:
        await cache.flights.close()
        await store.close()
        await tor.close()  # safe when start never ran

    return ServiceSpec(
        name=NAME,
        services=[registration(RelayServicer(ChainRelay(trongrid, cache)))],
        on_start=[start],
        on_stop=[stop],
    )


if __name__ == "__main__":
    run(build, RelaySettings)

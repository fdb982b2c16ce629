"""payout-router: `python -m lucid_tron.services.payout_router` serves lucid.tron.v1.PayoutRouterService and runs the
payout executor (one replica at a time executes: a lease).

Settings (MONGO_URL, MONGO_DATABASE, REDIS_URL, TRON_CLIENT_ADDR, WALLET_MANAGER_ADDR, USDT_CONTRACT, PAYOUT_WALLET_ID,
the limits (overall and PAYOUT_ROLE_LIMITS per caller role) and CIRCUIT_BREAKER_* below, DEPENDENCY_CHECK_INTERVAL_S and the mesh's) come from the environment and
secret files; every problem is reported at once and the process exits 78 before serving. MongoDB holds this service's
state, limits included: the process is NOT_SERVING while MongoDB does not answer, checked every
DEPENDENCY_CHECK_INTERVAL_S. Redis is soft and holds nothing of payouts: while it is down the process stays SERVING
and reports it under the health service "redis".
"""

from __future__ import annotations

import asyncio
import os
import socket
from contextlib import suppress
from dataclasses import dataclass
from functools import partial

from lucid_tron.chain import UsdtContractSettings
from lucid_tron.config import Settings, setting
from lucid_tron.mesh import Dependency, ServiceSettings, ServiceSpec, run
from lucid_tron.peers import TronClientAddress, TronClientService, WalletManagerAddress, WalletService
from lucid_tron.storage import MongoSettings, RedisSettings, connect_redis, redis_ping
from lucid_tron.webhooks import WebhookSettings, with_webhooks

from .executor import PayoutExecutor
from .limits import AssetPolicy, BreakerPolicy, Policy, is_role_limits, parse_role_limits
from .payouts import Payouts
from .servicer import PayoutRouterServicer, registration
from .store import PayoutRouterStore

NAME = "payout-router"
USDT_BASE_UNITS = 1_000_000


@dataclass(frozen=True, kw_only=True)
class PayoutSettings(Settings):
    """Which wallet pays, the limits (the money circuit breaker: the seeds' CIRCUIT_BREAKER_* figures are the
    defaults, in whole USDT), the approval thresholds, the fault breaker and the executor's pace."""

    # Empty: payouts are accepted, but none is signed until it is set (the executor logs why).
    payout_wallet_id: str = setting("PAYOUT_WALLET_ID", default="")
    circuit_breaker_hourly_limit: int = setting("CIRCUIT_BREAKER_HOURLY_LIMIT", default=1_000, ge=0)
    circuit_breaker_daily_limit: int = setting("CIRCUIT_BREAKER_DAILY_LIMIT", default=10_000, ge=0)
    circuit_breaker_failure_threshold: int = setting("CIRCUIT_BREAKER_FAILURE_THRESHOLD", default=5, ge=1)
    circuit_breaker_recovery_timeout: float = setting("CIRCUIT_BREAKER_RECOVERY_TIMEOUT", default=300.0, ge=0)
    circuit_breaker_half_open_max_calls: int = setting("CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS", default=3, ge=1)
    payout_usdt_min_base_units: int = setting("PAYOUT_USDT_MIN_BASE_UNITS", default=1, ge=1)
    # Default: the hourly limit, so one payout can use a whole hour.
    payout_usdt_max_base_units: int = setting("PAYOUT_USDT_MAX_BASE_UNITS", default=1_000 * USDT_BASE_UNITS, ge=1)
    approval_threshold_usdt_base_units: int = setting(
        "APPROVAL_THRESHOLD_USDT_BASE_UNITS", default=100 * USDT_BASE_UNITS, ge=0
    )
    payout_trx_min_sun: int = setting("PAYOUT_TRX_MIN_SUN", default=1, ge=1)
    payout_trx_max_sun: int = setting("PAYOUT_TRX_MAX_SUN", default=10_000_000_000, ge=1)
    approval_threshold_trx_sun: int = setting("APPROVAL_THRESHOLD_TRX_SUN", default=1_000_000_000, ge=0)
    trx_hourly_limit_sun: int = setting("TRX_HOURLY_LIMIT_SUN", default=10_000_000_000, ge=0)
    trx_daily_limit_sun: int = setting("TRX_DAILY_LIMIT_SUN", default=100_000_000_000, ge=0)
    payout_allowlist_enabled: bool = setting("PAYOUT_ALLOWLIST_ENABLED", default=False)
    # Limits per caller role, on top of the overall ones: "role:ASSET:hourly:daily" in base units, comma separated,
    # e.g. "operator:USDT:500000000:2000000000,tron/staking:TRX:0:0". A role is "operator", "tron/<service>" or
    # "unauthenticated" (see GetLimits); a role or asset not listed is held to the overall limits alone.
    payout_role_limits: str = setting(
        "PAYOUT_ROLE_LIMITS", default="", valid_if=(is_role_limits, "role:ASSET:hourly:daily entries, comma separated")
    )
    # The most TRX a USDT payout may burn for energy; the payout wallet's spend policy must allow it.
    payout_fee_limit_sun: int = setting("PAYOUT_FEE_LIMIT_SUN", default=30_000_000, ge=1, le=15_000_000_000)
    # How long a signed payout transaction can land (TRON's default is 60 s, at most 24 h).
    payout_expiration_s: float = setting("PAYOUT_EXPIRATION_S", default=60.0, ge=3, le=86_400)
    payout_executor_interval_s: float = setting("PAYOUT_EXECUTOR_INTERVAL_S", default=1.0, ge=0.05, le=60)
    payout_executor_lease_s: float = setting("PAYOUT_EXECUTOR_LEASE_S", default=15.0, ge=1, le=600)

    def policy(self) -> Policy:
        return Policy(
            assets={
                "USDT": AssetPolicy(
                    minimum=self.payout_usdt_min_base_units,
                    maximum=self.payout_usdt_max_base_units,
                    approval_threshold=self.approval_threshold_usdt_base_units,
                    hourly_limit=self.circuit_breaker_hourly_limit * USDT_BASE_UNITS,
                    daily_limit=self.circuit_breaker_daily_limit * USDT_BASE_UNITS,
                ),
                "TRX": AssetPolicy(
                    minimum=self.payout_trx_min_sun,
                    maximum=self.payout_trx_max_sun,
                    approval_threshold=self.approval_threshold_trx_sun,
                    hourly_limit=self.trx_hourly_limit_sun,
                    daily_limit=self.trx_daily_limit_sun,
                ),
            },
            breaker=BreakerPolicy(
                failure_threshold=self.circuit_breaker_failure_threshold,
                recovery_s=self.circuit_breaker_recovery_timeout,
                half_open_max_calls=self.circuit_breaker_half_open_max_calls,
            ),
            allowlist_enabled=self.payout_allowlist_enabled,
            roles=parse_role_limits(self.payout_role_limits),
        )


@dataclass(frozen=True, kw_only=True)
class PayoutRouterSettings(
    ServiceSettings,
    PayoutSettings,
    WebhookSettings,
    UsdtContractSettings,
    WalletManagerAddress,
    TronClientAddress,
    RedisSettings,
    MongoSettings,
):
    """Everything payout-router reads, composed from the settings groups that declare each variable once.

    The groups are listed last-first because a dataclass takes its fields from the last base first: this way
    problems and the configuration reference name MONGO_URL first and the mesh's own settings last.
    """


def executor(
    settings: PayoutRouterSettings, store: PayoutRouterStore, tron_client: TronClientService,
    wallet_manager: WalletService, ready: asyncio.Event | None = None,
) -> PayoutExecutor:
    """The payout executor of this process, holding the lease as host:pid; `ready` wakes it (`Payouts` sets it)."""
    owner = f"{socket.gethostname()}:{os.getpid()}"
    return PayoutExecutor(
        store,
        tron_client=tron_client,
        wallet_manager=wallet_manager,
        leases=partial(store.leases, owner=owner, ttl_s=settings.payout_executor_lease_s),
        policy=settings.policy(),
        payout_wallet_id=settings.payout_wallet_id,
        usdt_contract=settings.usdt_contract,
        fee_limit_sun=settings.payout_fee_limit_sun,
        expiration_s=settings.payout_expiration_s,
        interval_s=settings.payout_executor_interval_s,
        ready=ready,
    )


def build(settings: PayoutRouterSettings) -> ServiceSpec:
    store = PayoutRouterStore(settings)
    tron_client = settings.tron_client()
    wallet_manager = settings.wallet_manager()
    redis = connect_redis(settings.redis_url, app_name=NAME)
    ready = asyncio.Event()
    payouts = Payouts(store, settings.policy(), ready)
    running: list[asyncio.Task[None]] = []

    async def start_executor(_health: object) -> None:
        job = executor(settings, store, tron_client, wallet_manager, ready)
        running.append(asyncio.get_running_loop().create_task(job.run()))

    async def stop_executor() -> None:
        for task in running:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    spec = ServiceSpec(
        name=NAME,
        services=[registration(PayoutRouterServicer(payouts))],
        dependencies=[
            Dependency("mongodb", store.ping, open=store.open),
            Dependency("redis", partial(redis_ping, redis), soft=True),
        ],
        on_start=[start_executor],
        on_stop=[stop_executor, store.close, tron_client.close, wallet_manager.close, redis.aclose],
    )
    return with_webhooks(spec, store, settings)


if __name__ == "__main__":
    run(build, PayoutRouterSettings)

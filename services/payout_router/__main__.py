"""payout-router: `python -m lucid_tron.services.payout_router` serves lucid.tron.v1.PayoutRouterService.

Settings (MONGO_URL, MONGO_DATABASE, REDIS_URL, TRON_CLIENT_ADDR, WALLET_MANAGER_ADDR, USDT_CONTRACT,
DEPENDENCY_CHECK_INTERVAL_S and the mesh's) come from the environment and secret files; every problem is reported at
once and the process exits 78 before serving. MongoDB holds this service's state: the process is NOT_SERVING while
MongoDB does not answer, checked every DEPENDENCY_CHECK_INTERVAL_S. Redis is soft: while it is down the process stays
SERVING and reports it under the health service "redis".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from lucid_tron.chain import UsdtContractSettings
from lucid_tron.mesh import Dependency, ServiceSettings, ServiceSpec, run
from lucid_tron.peers import TronClientAddress, WalletManagerAddress
from lucid_tron.storage import MongoSettings, RedisSettings, connect_redis, redis_ping

from .payouts import Payouts
from .servicer import PayoutRouterServicer, registration
from .store import PayoutRouterStore

NAME = "payout-router"


@dataclass(frozen=True, kw_only=True)
class PayoutRouterSettings(
    ServiceSettings,
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


def build(settings: PayoutRouterSettings) -> ServiceSpec:
    store = PayoutRouterStore(settings)
    tron_client = settings.tron_client()
    wallet_manager = settings.wallet_manager()
    redis = connect_redis(settings.redis_url, app_name=NAME)
    payouts = Payouts(
        store,
        tron_client=tron_client,
        wallet_manager=wallet_manager,
        redis=redis,
        usdt_contract=settings.usdt_contract,
    )
    return ServiceSpec(
        name=NAME,
        services=[registration(PayoutRouterServicer(payouts))],
        dependencies=[
            Dependency("mongodb", store.ping, open=store.open),
            Dependency("redis", partial(redis_ping, redis), soft=True),
        ],
        on_stop=[store.close, tron_client.close, wallet_manager.close, redis.aclose],
    )


if __name__ == "__main__":
    run(build, PayoutRouterSettings)

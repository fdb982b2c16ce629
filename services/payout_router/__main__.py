"""payout-router: `python -m lucid_tron.services.payout_router` serves lucid.tron.v1.PayoutRouterService.

Settings come from the environment (and secret files, see lucid_tron.mesh); every problem is reported at once and
the process exits 78 before serving.
"""

from __future__ import annotations

from dataclasses import dataclass

from lucid_tron.chain import is_address
from lucid_tron.mesh import ServiceSettings, ServiceSpec, run, setting
from lucid_tron.services.payout_router.servicer import PayoutRouterServicer, registration

NAME = "payout-router"


@dataclass(frozen=True, kw_only=True)
class PayoutRouterSettings(ServiceSettings):
    # MongoDB holds this service's state; no connection is made at start (the issue that stores data adds
    # a health reporter for it). A URL may carry credentials, hence secret: it is also read from a file.
    mongo_url: str = setting("MONGO_URL", secret=True, schemes=("mongodb", "mongodb+srv"))
    mongo_database: str = setting("MONGO_DATABASE", default="lucid_payout_router")
    # Redis: caches, locks and pub/sub, never the only copy of money state.
    redis_url: str = setting("REDIS_URL", secret=True, schemes=("redis", "rediss"))
    # tron-client: blocks, accounts, broadcast of signed transactions; host:port.
    tron_client_addr: str = setting("TRON_CLIENT_ADDR")
    # wallet-manager: addresses and signatures; host:port.
    wallet_manager_addr: str = setting("WALLET_MANAGER_ADDR")
    # The USDT-TRC20 contract of the network in use (mainnet TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t). Required:
    # a default would silently point a Nile or devnet deployment at the wrong contract.
    usdt_contract: str = setting("USDT_CONTRACT", valid_if=(is_address, "a TRON address"))


def build(settings: PayoutRouterSettings) -> ServiceSpec:
    return ServiceSpec(name=NAME, services=[registration(PayoutRouterServicer())])


if __name__ == "__main__":
    run(build, PayoutRouterSettings)

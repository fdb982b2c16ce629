"""staking: `python -m lucid_tron.services.staking` serves lucid.tron.v1.StakingService, and the treasury
(lucid.tron.v1.TreasuryService and its sweeper, see `treasury_servicer.with_treasury`; its settings, from
PAYMENT_GATEWAY_ADDR and USDT_CONTRACT to SWEEPER_LEASE_S, are `sweeper.TreasurySettings`).

Settings (MONGO_URL, MONGO_DATABASE, TRON_CLIENT_ADDR, WALLET_MANAGER_ADDR, DEPENDENCY_CHECK_INTERVAL_S and the mesh's)
come from the environment and secret files; every problem is reported at once and the process exits 78 before serving.
MongoDB holds this service's state: the process is NOT_SERVING while MongoDB does not answer, checked every
DEPENDENCY_CHECK_INTERVAL_S.
"""

from __future__ import annotations

from dataclasses import dataclass

from lucid_tron.mesh import Dependency, ServiceSettings, ServiceSpec, run
from lucid_tron.peers import TronClientAddress, WalletManagerAddress
from lucid_tron.storage import MongoSettings

from .stakes import Stakes
from .servicer import StakingServicer, registration
from .store import StakingStore
from .sweeper import TreasurySettings
from .treasury_servicer import with_treasury

NAME = "staking"


@dataclass(frozen=True, kw_only=True)
class StakingSettings(
    ServiceSettings,
    TreasurySettings,
    WalletManagerAddress,
    TronClientAddress,
    MongoSettings,
):
    """Everything staking reads, composed from the settings groups that declare each variable once.

    The groups are listed last-first because a dataclass takes its fields from the last base first: this way
    problems and the configuration reference name MONGO_URL first and the mesh's own settings last.
    """


def build(settings: StakingSettings) -> ServiceSpec:
    store = StakingStore(settings)
    tron_client = settings.tron_client()
    wallet_manager = settings.wallet_manager()
    stakes = Stakes(store, tron_client=tron_client, wallet_manager=wallet_manager)
    spec = ServiceSpec(
        name=NAME,
        services=[registration(StakingServicer(stakes))],
        dependencies=[Dependency("mongodb", store.ping, open=store.open)],
        on_stop=[store.close, tron_client.close, wallet_manager.close],
    )
    return with_treasury(spec, settings, tron_client, wallet_manager)


if __name__ == "__main__":
    run(build, StakingSettings)

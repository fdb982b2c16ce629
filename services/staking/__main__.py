"""staking: `python -m lucid_tron.services.staking` serves lucid.tron.v1.StakingService.

Settings (MONGO_URL, MONGO_DATABASE, TRON_CLIENT_ADDR, WALLET_MANAGER_ADDR, STAKING_WALLET_ID,
DEPENDENCY_CHECK_INTERVAL_S and the mesh's)
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
from .settings import StakingWalletSettings
from .store import StakingStore

NAME = "staking"


@dataclass(frozen=True, kw_only=True)
class StakingSettings(
    ServiceSettings,
    StakingWalletSettings,
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
    return ServiceSpec(
        name=NAME,
        services=[registration(StakingServicer(stakes))],
        dependencies=[Dependency("mongodb", store.ping, open=store.open)],
        on_stop=[store.close, tron_client.close, wallet_manager.close],
    )


if __name__ == "__main__":
    run(build, StakingSettings)

"""wallet-manager: `python -m lucid_tron.services.wallet_manager` serves lucid.tron.v1.WalletService.

Settings (MONGO_URL, MONGO_DATABASE, USDT_CONTRACT, DEPENDENCY_CHECK_INTERVAL_S and the mesh's) come from the
environment and secret files; every problem is reported at once and the process exits 78 before serving. MongoDB holds
this service's state: the process is NOT_SERVING while MongoDB does not answer, checked every
DEPENDENCY_CHECK_INTERVAL_S.
"""

from __future__ import annotations

from dataclasses import dataclass

from lucid_tron.chain import UsdtContractSettings
from lucid_tron.mesh import Dependency, ServiceSettings, ServiceSpec, run
from lucid_tron.storage import MongoSettings

from .wallets import Wallets
from .servicer import WalletManagerServicer, registration
from .store import WalletManagerStore

NAME = "wallet-manager"


@dataclass(frozen=True, kw_only=True)
class WalletManagerSettings(ServiceSettings, UsdtContractSettings, MongoSettings):
    """Everything wallet-manager reads, composed from the settings groups that declare each variable once.

    The groups are listed last-first because a dataclass takes its fields from the last base first: this way
    problems and the configuration reference name MONGO_URL first and the mesh's own settings last.
    """


def build(settings: WalletManagerSettings) -> ServiceSpec:
    store = WalletManagerStore(settings)
    wallets = Wallets(store, usdt_contract=settings.usdt_contract)
    return ServiceSpec(
        name=NAME,
        services=[registration(WalletManagerServicer(wallets))],
        dependencies=[Dependency("mongodb", store.ping, open=store.open)],
        on_stop=[store.close],
    )


if __name__ == "__main__":
    run(build, WalletManagerSettings)

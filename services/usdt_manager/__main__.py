"""usdt-manager: `python -m lucid_tron.services.usdt_manager` serves lucid.tron.v1.UsdtService.

Settings (MONGO_URL, MONGO_DATABASE, TRON_CLIENT_ADDR, WALLET_MANAGER_ADDR, USDT_CONTRACT, DEPENDENCY_CHECK_INTERVAL_S
and the mesh's) come from the environment and secret files; every problem is reported at once and the process exits 78
before serving. MongoDB holds this service's state: the process is NOT_SERVING while MongoDB does not answer, checked
every DEPENDENCY_CHECK_INTERVAL_S.
"""

from __future__ import annotations

from dataclasses import dataclass

from lucid_tron.chain import UsdtContractSettings
from lucid_tron.mesh import Dependency, ServiceSettings, ServiceSpec, run
from lucid_tron.peers import TronClientAddress, WalletManagerAddress
from lucid_tron.storage import MongoSettings

from .transfers import UsdtTransfers
from .servicer import UsdtManagerServicer, registration
from .store import UsdtManagerStore

NAME = "usdt-manager"


@dataclass(frozen=True, kw_only=True)
class UsdtManagerSettings(
    ServiceSettings,
    UsdtContractSettings,
    WalletManagerAddress,
    TronClientAddress,
    MongoSettings,
):
    """Everything usdt-manager reads, composed from the settings groups that declare each variable once.

    The groups are listed last-first because a dataclass takes its fields from the last base first: this way
    problems and the configuration reference name MONGO_URL first and the mesh's own settings last.
    """


def build(settings: UsdtManagerSettings) -> ServiceSpec:
    store = UsdtManagerStore(settings)
    tron_client = settings.tron_client()
    wallet_manager = settings.wallet_manager()
    transfers = UsdtTransfers(
        store,
        tron_client=tron_client,
        wallet_manager=wallet_manager,
        usdt_contract=settings.usdt_contract,
    )
    return ServiceSpec(
        name=NAME,
        services=[registration(UsdtManagerServicer(transfers))],
        dependencies=[Dependency("mongodb", store.ping, open=store.open)],
        on_stop=[store.close, tron_client.close, wallet_manager.close],
    )


if __name__ == "__main__":
    run(build, UsdtManagerSettings)

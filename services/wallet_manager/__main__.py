"""wallet-manager: `python -m lucid_tron.services.wallet_manager` serves lucid.tron.v1.WalletService.

Settings come from the environment (and secret files, see lucid_tron.mesh); every problem is reported at once and
the process exits 78 before serving.
"""

from __future__ import annotations

from dataclasses import dataclass

from lucid_tron.chain import is_address
from lucid_tron.mesh import ServiceSettings, ServiceSpec, run, setting
from lucid_tron.services.wallet_manager.servicer import WalletManagerServicer, registration

NAME = "wallet-manager"


@dataclass(frozen=True, kw_only=True)
class WalletManagerSettings(ServiceSettings):
    # MongoDB holds this service's state; no connection is made at start (the issue that stores data adds
    # a health reporter for it). A URL may carry credentials, hence secret: it is also read from a file.
    mongo_url: str = setting("MONGO_URL", secret=True, schemes=("mongodb", "mongodb+srv"))
    mongo_database: str = setting("MONGO_DATABASE", default="lucid_wallet_manager")
    # The USDT-TRC20 contract of the network in use (mainnet TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t): a USDT intent
    # may only be signed as a call to it. Required: a default would silently point a Nile or devnet deployment at
    # the wrong contract.
    usdt_contract: str = setting("USDT_CONTRACT", valid_if=(is_address, "a TRON address"))


def build(settings: WalletManagerSettings) -> ServiceSpec:
    return ServiceSpec(name=NAME, services=[registration(WalletManagerServicer())])


if __name__ == "__main__":
    run(build, WalletManagerSettings)

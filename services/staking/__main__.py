"""staking: `python -m lucid_tron.services.staking` serves lucid.tron.v1.StakingService.

Settings come from the environment (and secret files, see lucid_tron.mesh); every problem is reported at once and
the process exits 78 before serving.
"""

from __future__ import annotations

from dataclasses import dataclass

from lucid_tron.mesh import ServiceSettings, ServiceSpec, run, setting
from lucid_tron.services.staking.servicer import StakingServicer, registration

NAME = "staking"


@dataclass(frozen=True, kw_only=True)
class StakingSettings(ServiceSettings):
    # MongoDB holds this service's state; no connection is made at start (the issue that stores data adds
    # a health reporter for it). A URL may carry credentials, hence secret: it is also read from a file.
    mongo_url: str = setting("MONGO_URL", secret=True, schemes=("mongodb", "mongodb+srv"))
    mongo_database: str = setting("MONGO_DATABASE", default="lucid_staking")
    # tron-client: blocks, accounts, broadcast of signed transactions; host:port.
    tron_client_addr: str = setting("TRON_CLIENT_ADDR")
    # wallet-manager: addresses and signatures; host:port.
    wallet_manager_addr: str = setting("WALLET_MANAGER_ADDR")


def build(settings: StakingSettings) -> ServiceSpec:
    return ServiceSpec(name=NAME, services=[registration(StakingServicer())])


if __name__ == "__main__":
    run(build, StakingSettings)

"""wallet-manager: `python -m lucid_tron.services.wallet_manager` serves lucid.tron.v1.WalletService.

Settings (MONGO_URL, MONGO_DATABASE, USDT_CONTRACT, ENCRYPTION_KEY_FILE, DEPENDENCY_CHECK_INTERVAL_S and the mesh's)
come from the environment and secret files; every problem is reported at once and the process exits 78 before
serving, as it does when the master secret in ENCRYPTION_KEY_FILE does not open this install's vault (checked as soon
as MongoDB answers, nothing written). MongoDB holds this service's state: the process is NOT_SERVING while MongoDB
does not answer, checked every DEPENDENCY_CHECK_INTERVAL_S.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from lucid_tron.chain import UsdtContractSettings
from lucid_tron.config import ConfigError, Problem, Settings, setting
from lucid_tron.errors import Unavailable
from lucid_tron.keys import MasterSecret, MasterSecretError, WrongMasterSecret
from lucid_tron.mesh import EXIT_CONFIG, Dependency, ServiceSettings, ServiceSpec, run
from lucid_tron.storage import MongoSettings

from .audit import WalletAudit
from .custody import Custody
from .servicer import WalletManagerServicer, registration
from .signing import Signer
from .store import WalletManagerStore
from .wallets import Wallets

NAME = "wallet-manager"

log = logging.getLogger("lucid_tron.services.wallet_manager")


@dataclass(frozen=True, kw_only=True)
class MasterKeySettings(Settings):
    """ENCRYPTION_KEY_FILE: the file holding the master secret that wallets are sealed under (a Docker/Kubernetes
    secret). `lucid-tron wallet rotate-master-key` replaces it."""

    encryption_key_file: str = setting("ENCRYPTION_KEY_FILE", default="/run/secrets/wallet_master_key")


@dataclass(frozen=True, kw_only=True)
class WalletManagerSettings(ServiceSettings, MasterKeySettings, UsdtContractSettings, MongoSettings):
    """Everything wallet-manager reads, composed from the settings groups that declare each variable once.

    The groups are listed last-first because a dataclass takes its fields from the last base first: this way
    problems and the configuration reference name MONGO_URL first and the mesh's own settings last.
    """


class WalletManager:
    """The parts of the running service, and their start: the vault opens as soon as MongoDB answers."""

    def __init__(self, settings: WalletManagerSettings, secret: MasterSecret) -> None:
        self.store = WalletManagerStore(settings)
        self.custody = Custody(secret)
        self.wallets = Wallets(self.store, self.custody, WalletAudit(self.store))
        self.signer = Signer(self.wallets, tokens={settings.usdt_contract: "USDT"})

    async def open(self) -> None:
        await self.store.open()
        await self.ready()

    async def ready(self) -> bool:
        """MongoDB answers and the vault is open (opened now if MongoDB just came back)."""
        if not await self.store.ping():
            return False
        if not self.custody.is_open:
            try:
                with self.store.bounded():
                    await self.custody.open(self.store.db)
            except Unavailable:
                return False
            except WrongMasterSecret as error:
                # Serving with it would seal new wallets under a key that cannot open the others: stop, as for
                # any other configuration error.
                message = f"{NAME}: ENCRYPTION_KEY_FILE does not hold this install's master secret: {error.message}"
                log.critical(message)
                print(message, file=sys.stderr)
                raise SystemExit(EXIT_CONFIG) from None
        return True


def build(settings: WalletManagerSettings) -> ServiceSpec:
    try:
        secret = MasterSecret.from_file(settings.encryption_key_file)
    except MasterSecretError as error:
        raise ConfigError([Problem("ENCRYPTION_KEY_FILE", error.message)]) from None
    service = WalletManager(settings, secret)
    return ServiceSpec(
        name=NAME,
        services=[registration(WalletManagerServicer(service.wallets, service.signer))],
        dependencies=[Dependency("mongodb", service.ready, open=service.open)],
        on_stop=[service.store.close],
    )


if __name__ == "__main__":
    run(build, WalletManagerSettings)

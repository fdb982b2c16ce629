"""usdt-manager: `python -m lucid_tron.services.usdt_manager` serves lucid.tron.v1.UsdtService.

Settings (MONGO_URL, MONGO_DATABASE, TRON_CLIENT_ADDR, TRON_RELAY_ADDR, WALLET_MANAGER_ADDR, STAKING_ADDR, USDT_CONTRACT,
FEE_LIMIT_CAP_SUN, FEE_LIMIT_MARGIN_PERCENT, TRANSACTION_LIFETIME_S, DEPENDENCY_CHECK_INTERVAL_S and the mesh's) come from the environment and secret files; every problem is reported at once and the process exits 78
before serving. MongoDB holds this service's state: the process is NOT_SERVING while MongoDB does not answer, checked
every DEPENDENCY_CHECK_INTERVAL_S. With STAKING_ADDR set, every transfer has an energy plan, and a background loop
completes the plans of transfers nobody asks about (every replica runs it: completing a plan is idempotent).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from dataclasses import dataclass

from lucid_tron.chain import UsdtContractSettings
from lucid_tron.mesh import Dependency, ServiceSettings, ServiceSpec, run
from lucid_tron.errors import LucidError
from lucid_tron.peers import StakingAddress, TronClientAddress, TronRelayAddress, WalletManagerAddress
from lucid_tron.storage import MongoSettings

from .contract import UsdtContract
from .energy_plans import EnergyPlans
from .estimates import Estimator, FeePolicy, FeePolicySettings
from .history import TransferHistory
from .servicer import UsdtManagerServicer, registration
from .store import UsdtManagerStore
from .transfers import UsdtTransfers

NAME = "usdt-manager"
#: How often the energy plans of transfers nobody asks about are looked at.
ENERGY_SETTLE_INTERVAL_S = 3.0
_log = logging.getLogger("lucid_tron.usdt_manager")


@dataclass(frozen=True, kw_only=True)
class UsdtManagerSettings(
    ServiceSettings,
    FeePolicySettings,
    UsdtContractSettings,
    StakingAddress,
    WalletManagerAddress,
    TronRelayAddress,
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
    tron_relay = settings.tron_relay()
    wallet_manager = settings.wallet_manager()
    contract = UsdtContract(tron_client, settings.usdt_contract)
    staking = settings.staking()
    policy = FeePolicy(cap_sun=settings.fee_limit_cap_sun, margin_percent=settings.fee_limit_margin_percent)
    transfers = UsdtTransfers(
        store,
        tron_client=tron_client,
        wallet_manager=wallet_manager,
        contract=contract,
        estimator=Estimator(tron_client, contract, policy),
        lifetime_s=settings.transaction_lifetime_s,
        energy=None if staking is None else EnergyPlans(staking),
    )
    running: list[asyncio.Task[None]] = []

    async def settle_energy_plans() -> None:
        while True:
            try:
                await transfers.settle_energy_plans()
            except LucidError as error:
                _log.warning("energy plans not settled this round: %s", error.message)
            except Exception:
                _log.exception("settling energy plans failed")
            await asyncio.sleep(ENERGY_SETTLE_INTERVAL_S)

    async def start_settling(_health: object) -> None:
        if staking is not None:
            running.append(asyncio.get_running_loop().create_task(settle_energy_plans()))

    async def stop_settling() -> None:
        for task in running:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        if staking is not None:
            await staking.close()

    history = TransferHistory(tron_relay, settings.usdt_contract)
    return ServiceSpec(
        name=NAME,
        services=[registration(UsdtManagerServicer(transfers, history))],
        dependencies=[Dependency("mongodb", store.ping, open=store.open)],
        on_start=[start_settling],
        on_stop=[stop_settling, store.close, tron_client.close, tron_relay.close, wallet_manager.close],
    )


if __name__ == "__main__":
    run(build, UsdtManagerSettings)

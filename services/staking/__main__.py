"""staking: `python -m lucid_tron.services.staking` serves lucid.tron.v1.StakingService, and the treasury
(lucid.tron.v1.TreasuryService and its sweeper, see `treasury_servicer.with_treasury`; its settings, from
PAYMENT_GATEWAY_ADDR and USDT_CONTRACT to SWEEPER_LEASE_S, are `sweeper.TreasurySettings`).

Settings (MONGO_URL, MONGO_DATABASE, TRON_CLIENT_ADDR, WALLET_MANAGER_ADDR, USDT_CONTRACT, STAKING_WALLET_ID, the
ENERGY_*, KEEPER_* and SWEEP* settings, PAYOUT_ADDRESS, DEPENDENCY_CHECK_INTERVAL_S and the mesh's) come from the
environment and secret files; every problem is reported at once and the process exits 78 before serving. MongoDB holds
this service's state: the process is NOT_SERVING while MongoDB does not answer, checked every
DEPENDENCY_CHECK_INTERVAL_S. Three background jobs run on whichever replica holds their lease: the energy reaper, the
energy keeper and the treasury's sweeper.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import partial

from lucid_tron.mesh import Dependency, ServiceSettings, ServiceSpec, run
from lucid_tron.peers import TronClientAddress, WalletManagerAddress
from lucid_tron.storage import LeasedJob, MongoSettings

from .delegations import DelegationSender
from .energy import EnergyPlanner, EnergySettings
from .forecast import PlannedTransfers
from .keeper import EnergyKeeper, KeeperSettings
from .stakes import Stakes
from .servicer import StakingServicer, registration
from .store import StakingStore
from .sweeper import TreasurySettings
from .treasury_servicer import with_treasury

NAME = "staking"
#: How long a job's lease holds without renewal, at least: each round renews it, and it lasts three rounds of the
#: job's pace, so a standby takes over within a few rounds of a holder's death and never while it lives.
JOB_LEASE_S = 30.0


@dataclass(frozen=True, kw_only=True)
class StakingSettings(
    ServiceSettings,
    KeeperSettings,
    EnergySettings,
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
    delegations = DelegationSender(tron_client, wallet_manager, wallet_id=settings.staking_wallet_id)
    energy = EnergyPlanner(
        store, tron_client=tron_client, delegations=delegations, usdt_contract=settings.usdt_contract,
        policy=settings.energy_policy(),
    )
    keeper = EnergyKeeper(
        store, tron_client=tron_client, delegations=delegations, addresses=settings.kept_addresses(),
        floor=settings.keeper_energy_floor,
    )
    owner = f"{socket.gethostname()}:{os.getpid()}"
    # The treasury adds its open sweeps (with_treasury): ForecastResources counts them as planned transfers.
    planned = PlannedTransfers()

    def job(name: str, work: Callable[[], Awaitable[int]], interval_s: float) -> LeasedJob:
        # The energy jobs' writes are compare-and-set on the plans' stored state: a paused former holder that
        # writes late at worst broadcasts stored bytes again, so they need no fence.
        leases = partial(store.leases, owner=owner, ttl_s=max(JOB_LEASE_S, 3 * interval_s))
        return LeasedJob(name, lambda _fence: work(), leases=leases, interval_s=interval_s)

    jobs = [job("energy-reaper", energy.reap, settings.energy_reaper_interval_s)]
    if keeper.enabled:
        jobs.append(job("energy-keeper", keeper.keep, settings.keeper_interval_s))
    running: list[asyncio.Task[None]] = []

    async def start_jobs(_health: object) -> None:
        running.extend(asyncio.get_running_loop().create_task(job.run()) for job in jobs)

    async def stop_jobs() -> None:
        for task in running:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    spec = ServiceSpec(
        name=NAME,
        services=[registration(StakingServicer(stakes, energy, planned))],
        dependencies=[Dependency("mongodb", store.ping, open=store.open)],
        on_start=[start_jobs],
        on_stop=[stop_jobs, store.close, tron_client.close, wallet_manager.close],
    )
    return with_treasury(spec, settings, tron_client, wallet_manager, planned)


if __name__ == "__main__":
    run(build, StakingSettings)

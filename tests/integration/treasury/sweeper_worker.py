"""A process that runs only the treasury's sweeper, for the crash test: `python sweeper_worker.py` with staking's
settings as JSON in SWEEPER_WORKER_SETTINGS. It prints "ready" once its clients exist and runs until killed."""

from __future__ import annotations

import asyncio
import json
import logging
import os

from lucid_tron.services.staking.__main__ import StakingSettings
from lucid_tron.services.staking.sweeper import WalletAddresses
from lucid_tron.services.staking.treasury_servicer import sweeper_of, treasury_of
from lucid_tron.services.staking.treasury_store import TreasuryStore


async def main() -> None:
    settings = StakingSettings(**json.loads(os.environ["SWEEPER_WORKER_SETTINGS"]))
    store = TreasuryStore(settings)
    await store.open()
    tron_client, wallet_manager = settings.tron_client(), settings.wallet_manager()
    addresses = WalletAddresses(wallet_manager)
    treasury = treasury_of(settings, store, settings.payment_gateway(), addresses)
    job = sweeper_of(settings, store, treasury, tron_client, wallet_manager, addresses)
    print("ready", flush=True)
    await job.run()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main())

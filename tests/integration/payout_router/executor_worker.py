"""A process that runs only payout-router's executor, for the crash test: `python executor_worker.py` with the
router's settings as JSON in PAYOUT_WORKER_SETTINGS. It prints "ready" once its clients exist and runs until killed."""

from __future__ import annotations

import asyncio
import json
import logging
import os

from lucid_tron.services.payout_router.__main__ import PayoutRouterSettings, executor
from lucid_tron.services.payout_router.store import PayoutRouterStore


async def main() -> None:
    settings = PayoutRouterSettings(**json.loads(os.environ["PAYOUT_WORKER_SETTINGS"]))
    store = PayoutRouterStore(settings)
    await store.open()
    job = executor(settings, store, settings.tron_client(), settings.wallet_manager())
    print("ready", flush=True)
    await job.run()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main())

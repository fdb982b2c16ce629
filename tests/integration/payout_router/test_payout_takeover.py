"""A new executor takes over at once from one that died inside a fenced transaction: the transaction it left open
would keep the lease document and the payout it wrote locked until the server ends it (60 s on mongod; SecantusDB only
when another transaction statement reaches it), so the new holder ends it first, by the session ids the lease lists."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from pymongo.asynchronous.client_session import AsyncClientSession

from integration.payout_router.payout_kit import CONFIRMED, payout_stack, running_executor
from lucid_tron.devnet import Devnet
from lucid_tron.services.payout_router.executor import LEASE
from lucid_tron.services.payout_router.store import PAYOUTS, PayoutRouterStore
from lucid_tron.storage import Leases


async def test_an_executor_that_died_inside_a_fenced_transaction_does_not_hold_up_the_next(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, payout_wallet_id="") as stack:
        created = await stack.create(amount=1_000_000)
        dead = PayoutRouterStore(stack.settings)
        await dead.open()
        dead_leases = dead.leases(owner="dead-host:1", ttl_s=1.0)
        lease = await dead_leases.acquire(LEASE)
        assert lease is not None
        never = asyncio.Event()
        wrote = asyncio.Event()

        async def dies_before_commit(session: AsyncClientSession) -> None:
            # Both writes of a fenced commit are made (the payout, then the lease document), and then nothing:
            # the process is gone as far as the server can tell.
            await dead.collection(PAYOUTS).update_one({"_id": created.payout_id}, {"$set": {"reference": "lost"}},
                                                      session=session)
            await dead.collection(Leases.COLLECTION).update_one({"_id": LEASE}, {"$set": {"fenced_at": 0}},
                                                                session=session)
            wrote.set()
            await never.wait()

        stuck = asyncio.create_task(dead_leases.fenced(lease, dies_before_commit))
        await wrote.wait()
        await asyncio.sleep(1.5)  # the dead holder's lease expires
        started = time.monotonic()
        async with running_executor(stack.router_settings(payout_wallet_id=stack.wallet_id)):
            done = await stack.wait_for(created.payout_id, CONFIRMED, timeout_s=45)
        took = time.monotonic() - started
        never.set()
        with contextlib.suppress(Exception):
            await stuck
        await dead.close()
    assert done.reference == ""
    assert took < 30

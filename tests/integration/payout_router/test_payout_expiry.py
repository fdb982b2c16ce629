"""An attempt is replaced only when the chain proves it can no longer land: past its expiration and absent from every
solidified block up to one stamped after it. Until then the same bytes are sent again; never a second transaction
that could land beside the first."""

from __future__ import annotations

import asyncio
from pathlib import Path

from integration.payout_router.payout_kit import CONFIRMED, payout_stack, recipient, tronpy_client, usdt_balance
from lucid.tron.v1 import payout_router_pb2 as pr
from lucid_tron.devnet import Devnet

SHORT_LIVED = {"payout_expiration_s": 3.0}


async def test_an_attempt_no_node_accepted_is_replaced_once_proven_lost(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    to = recipient()
    chain.faults.add(status=503, paths=["/wallet/broadcasthex"])
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, **SHORT_LIVED) as stack:
        created = await stack.create(amount=1_500_000, to=to)
        first = await stack.wait_for(created.payout_id, pr.PAYOUT_STATE_SIGNED)
        # Until the expiration has passed and solidified, the stored attempt stays the only one.
        while True:
            current = await stack.get(created.payout_id)
            if len(current.attempts) > 1:
                break
            assert current.attempts[0].state in (pr.ATTEMPT_STATE_SIGNED, pr.ATTEMPT_STATE_EXPIRED)
            await asyncio.sleep(0.2)
        chain.faults.clear()
        done = await stack.wait_for(created.payout_id, CONFIRMED)
        async with tronpy_client(chain) as tron:
            paid = await usdt_balance(tron, chain, to)
    assert paid == 1_500_000
    assert done.attempts[0].txid == first.attempts[0].txid
    assert done.attempts[0].state == pr.ATTEMPT_STATE_EXPIRED
    assert done.attempts[0].expiration_time.ToDatetime() < done.attempts[1].create_time.ToDatetime()
    assert [attempt.state for attempt in done.attempts].count(pr.ATTEMPT_STATE_CONFIRMED) == 1


async def test_a_transaction_dropped_by_a_reorg_is_still_paid_exactly_once(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet, devnet_http
):
    to = recipient()
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, **SHORT_LIVED) as stack:
        created = await stack.create(amount=2_500_000, to=to)
        broadcast = await stack.wait_for(created.payout_id, pr.PAYOUT_STATE_BROADCAST)
        txid = broadcast.attempts[-1].txid
        while True:
            info = await devnet_http.post(chain, "/wallet/gettransactioninfobyid", {"value": txid})
            if info.get("blockNumber"):
                break
            await asyncio.sleep(0.05)
        dropped = chain.reorg(chain.head_number - info["blockNumber"] + 1, requeue=False)
        done = await stack.wait_for(created.payout_id, CONFIRMED)
        async with tronpy_client(chain) as tron:
            paid = await usdt_balance(tron, chain, to)
    assert txid in dropped
    assert paid == 2_500_000
    assert all(attempt.state == pr.ATTEMPT_STATE_EXPIRED for attempt in done.attempts[:-1])
    assert done.attempts[-1].state == pr.ATTEMPT_STATE_CONFIRMED

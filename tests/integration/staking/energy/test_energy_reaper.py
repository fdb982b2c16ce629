"""The reaper: a plan whose caller never completes it (crashed, or gone) has its delegation taken back after
ENERGY_PLAN_TIMEOUT_S, by whichever staking replica holds the reaper's lease."""

from __future__ import annotations

import asyncio
from pathlib import Path

from integration.staking.energy_kit import energy_stack
from lucid.tron.v1 import staking_pb2
from lucid_tron.devnet import Devnet


async def test_the_reaper_takes_back_the_delegation_of_an_abandoned_plan(
    devnet: Devnet, mongo_url: str, tmp_path: Path
) -> None:
    async with energy_stack(
        devnet, mongo_url, tmp_path, energy_plan_timeout_s=1.0, energy_reaper_interval_s=0.1
    ) as stack:
        sender = stack.sender()
        plan = await stack.create_plan(sender.address, stack.holder(), 1_000_000)
        lent = (await stack.resources(sender.address)).delegated_energy_in_sun

        async with asyncio.timeout(30):
            while (reaped := await stack.get_plan(plan.plan_id)).state != staking_pb2.ENERGY_PLAN_STATE_COMPLETED:
                if stack.devnet.chain.pending_txids:
                    stack.devnet.produce_block()
                await asyncio.sleep(0.1)
        after = await stack.resources(sender.address)
        staking = await stack.resources(stack.staking_address)

    assert lent == plan.delegated_sun > 0
    assert reaped.reaped and reaped.undelegate_txid
    assert after.delegated_energy_in_sun == 0
    assert staking.delegated_energy_out_sun == 0


async def test_a_plan_completed_in_time_is_not_reaped(devnet: Devnet, mongo_url: str, tmp_path: Path) -> None:
    async with energy_stack(devnet, mongo_url, tmp_path, energy_reaper_interval_s=0.1) as stack:
        sender, holder = stack.sender(), stack.holder()
        plan = await stack.create_plan(sender.address, holder, 1_000_000)
        txid = stack.send_usdt(sender, holder, 1_000_000, fee_limit_sun=plan.fee_limit_sun)
        await stack.complete_plan(plan.plan_id, txid)
        completed = await stack.released(plan.plan_id)

    assert not completed.reaped and completed.transfer_txid == txid

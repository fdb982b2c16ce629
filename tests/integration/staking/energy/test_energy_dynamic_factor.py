"""Mainnet's dynamic energy factor, as devnet models it (`usdt_energy_factors`, maintenance periods): estimateenergy
answers with the head's period, the transfer runs in its block's. Across a boundary that raises the factor by 25 %,
the plan's margin (ENERGY_MARGIN_PERCENT, 30 % by default) is what keeps a transfer on delegated energy from running
out of energy."""

from __future__ import annotations

from pathlib import Path

from integration.staking.energy_kit import EnergyStack, energy_stack
from lucid.tron.v1 import common_pb2, staking_pb2

#: Factor 0 in even periods, +25 % in odd ones; a period is PERIOD blocks.
FACTORS = (0, 2_500)
PERIOD = 40


async def plan_and_send_across_the_boundary(stack: EnergyStack) -> tuple[staking_pb2.EnergyPlan, str]:
    """Plan in the last blocks of period 0 (the delegation lands in its last block) and send in period 1."""
    sender, holder = stack.sender(), stack.holder()
    stack.devnet.produce_blocks(PERIOD - 2 - stack.devnet.head_number)
    plan = await stack.create_plan(sender.address, holder, 1_000_000)
    assert stack.devnet.head_number == PERIOD - 1
    return plan, stack.send_usdt(sender, holder, 1_000_000, fee_limit_sun=plan.fee_limit_sun)


async def test_with_the_margin_a_delegated_transfer_across_a_factor_rise_burns_nothing(
    start_devnet, mongo_url: str, tmp_path: Path
) -> None:
    async with start_devnet(block_interval=0, usdt_energy_factors=FACTORS, maintenance_period_blocks=PERIOD) as devnet:
        async with energy_stack(devnet, mongo_url, tmp_path) as stack:
            plan, txid = await plan_and_send_across_the_boundary(stack)
            receipt = await stack.receipt(txid)

    assert plan.source == staking_pb2.ENERGY_SOURCE_DELEGATED
    assert receipt.block_number == PERIOD
    assert receipt.result == common_pb2.EXECUTION_RESULT_SUCCESS
    assert receipt.energy_used > plan.energy_estimated  # the factor rose between the estimate and the block
    assert (receipt.energy_burned, receipt.energy_fee_sun) == (0, 0)


async def test_without_a_margin_the_same_transfer_runs_out_of_energy(
    start_devnet, mongo_url: str, tmp_path: Path
) -> None:
    async with start_devnet(block_interval=0, usdt_energy_factors=FACTORS, maintenance_period_blocks=PERIOD) as devnet:
        async with energy_stack(devnet, mongo_url, tmp_path, energy_margin_percent=0) as stack:
            plan, txid = await plan_and_send_across_the_boundary(stack)
            receipt = await stack.receipt(txid)

    assert plan.energy_planned == plan.energy_estimated
    assert receipt.result == common_pb2.EXECUTION_RESULT_OUT_OF_ENERGY

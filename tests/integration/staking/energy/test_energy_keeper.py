"""The keeper: the payout wallet's energy is kept above KEEPER_ENERGY_FLOOR by delegation from the staking wallet,
and every delegation it makes is recorded."""

from __future__ import annotations

import asyncio
from pathlib import Path

from integration.staking.energy_kit import EnergyStack, energy_stack, fresh_key, stake_own_energy
from lucid_tron.devnet import Devnet

FLOOR = 150_000


async def energy_available(stack: EnergyStack, address: str) -> int:
    resources = await stack.resources(address)
    return resources.energy_limit - resources.energy_used


async def settled_keeper_records(stack: EnergyStack) -> list[dict]:
    """The keeper's records once none waits for its block (blocks produced; its next rounds record what landed)."""
    async with asyncio.timeout(30):
        while True:
            records = await stack.collection("keeper_delegations")
            if all(record["state"] != "SENT" for record in records):
                return records
            if stack.devnet.chain.pending_txids:
                stack.devnet.produce_block()
            await asyncio.sleep(0.05)


async def until_topped_up(stack: EnergyStack, address: str) -> int:
    """The address's available energy once the keeper's delegation is in its view (/wallet/ reads count pending
    transactions)."""
    async with asyncio.timeout(30):
        while (available := await energy_available(stack, address)) < FLOOR:
            if stack.devnet.chain.pending_txids:
                stack.devnet.produce_block()
            await asyncio.sleep(0.05)
    return available


async def test_the_keeper_tops_up_an_address_below_the_floor_and_records_it(
    devnet: Devnet, mongo_url: str, tmp_path: Path
) -> None:
    payout = fresh_key("payout")
    devnet.fund(payout.address, trx_sun=100_000_000, usdt_units=100_000_000)
    async with energy_stack(
        devnet, mongo_url, tmp_path, payout_address=payout.address, keeper_energy_floor=FLOOR, keeper_interval_s=0.1
    ) as stack:
        topped_up = await until_topped_up(stack, payout.address)
        stack.send_usdt(payout, stack.holder(), 1_000_000, fee_limit_sun=20_000_000)  # spends ~64,285 of it
        below = await energy_available(stack, payout.address)
        again = await until_topped_up(stack, payout.address)
        records = await settled_keeper_records(stack)
        lent = (await stack.resources(payout.address)).delegated_energy_in_sun

    assert topped_up >= FLOOR and below < FLOOR and again >= FLOOR
    assert [(r["receiver"], r["state"]) for r in records] == [(payout.address, "LANDED")] * 2
    assert lent == sum(r["amount_sun"] for r in records)


async def test_the_keeper_lends_nothing_to_an_address_above_the_floor(
    devnet: Devnet, mongo_url: str, tmp_path: Path
) -> None:
    rich = fresh_key("rich")
    devnet.fund(rich.address, trx_sun=30_000_000_000)
    stake_own_energy(devnet, rich, 25_000_000_000)
    async with energy_stack(
        devnet, mongo_url, tmp_path, keeper_addresses=rich.address, keeper_energy_floor=FLOOR, keeper_interval_s=0.1
    ) as stack:
        await asyncio.sleep(0.5)  # rounds of the keeper
        records = await stack.collection("keeper_delegations")
        available = await energy_available(stack, rich.address)

    assert available >= FLOOR
    assert records == []

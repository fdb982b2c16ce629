"""The treasury's open USDT sweeps are transfers the staking wallet will lend energy for: ForecastResources counts
them as planned for that address (and for no other)."""

from __future__ import annotations

import uuid

from lucid.tron.v1 import payment_gateway_pb2
from lucid_tron.services.staking import treasury as t
from lucid_tron.services.staking.forecast import PlannedTransfers
from lucid_tron.services.staking.treasury import Treasury, TreasuryPolicy, new_sweep
from lucid_tron.services.staking.treasury_store import TreasuryStore
from lucid_tron.storage import MongoSettings

LENDER = "TLenderAddressOfTheStakingWallet11"
PAYOUT = "TPayoutAddressOfThePayoutWallet111"


async def address(value: str) -> str:
    return value


def treasury_on(store: TreasuryStore, strategy: str = t.DELEGATE_STRATEGY) -> Treasury:
    policy = TreasuryPolicy(thresholds={"USDT": 1, "TRX": 1}, strategy=strategy, energy_margin_bps=0, interval_s=60)
    return Treasury(store, payment_gateway=None, policy=policy, payout_address=lambda: address(PAYOUT),
                    lender_address=lambda: address(LENDER))


async def sweeps_of(store: TreasuryStore, *states_and_assets: tuple[str, str]) -> None:
    for index, (state, asset) in enumerate(states_and_assets):
        invoice = payment_gateway_pb2.Invoice(invoice_id=f"inv_{index:024x}", deposit_address=f"TDeposit{index}",
                                              paid_amount_base_units=1_000_000)
        sweep = new_sweep(invoice, asset, PAYOUT, t.DELEGATE_STRATEGY)
        await store.insert_sweep({**sweep, "state": state})


async def test_open_usdt_sweeps_are_planned_transfers_of_the_staking_wallet_only(mongo_url):
    store = TreasuryStore(MongoSettings(mongo_url=mongo_url, mongo_database=f"treasury_{uuid.uuid4().hex[:12]}"))
    await store.open()
    try:
        await sweeps_of(store, ("PENDING", "USDT"), ("SWEEPING", "USDT"), ("SWEPT", "USDT"), ("PENDING", "TRX"))
        planned = PlannedTransfers()
        planned.add(treasury_on(store).planned_transfers)

        assert await planned(LENDER) == 2
        assert await planned(PAYOUT) == 0
    finally:
        await store.db.client.drop_database(store.db.name)
        await store.close()


async def test_sweeps_that_burn_for_their_energy_plan_nothing_for_the_staking_wallet(mongo_url):
    store = TreasuryStore(MongoSettings(mongo_url=mongo_url, mongo_database=f"treasury_{uuid.uuid4().hex[:12]}"))
    await store.open()
    try:
        await sweeps_of(store, ("PENDING", "USDT"))

        assert await treasury_on(store, strategy=t.BURN_STRATEGY).planned_transfers(LENDER) == 0
    finally:
        await store.db.client.drop_database(store.db.name)
        await store.close()

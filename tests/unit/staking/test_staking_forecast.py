"""The forecast's arithmetic: energy from stake, linear recovery, planned transfers and the stake a target needs."""

from __future__ import annotations

import pytest

from lucid.tron.v1 import common_pb2
from lucid_tron.errors import FailedPrecondition
from lucid_tron.services.staking.forecast import (
    TRANSFER_ENERGY_TO_HOLDER,
    TRANSFER_ENERGY_TO_NEW_HOLDER,
    energy_of_stake,
    forecast,
    stake_for_energy,
)

TRX = 1_000_000
HOUR_MS = 3_600_000
#: devnet's totals: 10 energy a day per staked TRX.
LIMIT, WEIGHT = 90_000_000_000, 9_000_000_000


def account(**fields: int) -> common_pb2.AccountResources:
    values = dict(total_energy_limit=LIMIT, total_energy_weight=WEIGHT, free_bandwidth_limit=600)
    return common_pb2.AccountResources(**{**values, **fields})


def test_energy_of_a_stake_is_its_share_of_the_network_energy() -> None:
    assert energy_of_stake(100_000 * TRX, LIMIT, WEIGHT) == 100_000 * LIMIT // (WEIGHT + 100_000)


def test_less_than_a_whole_trx_gives_no_energy() -> None:
    assert energy_of_stake(TRX - 1, LIMIT, WEIGHT) == 0


def test_the_stake_for_some_energy_is_the_least_whole_trx_that_gives_it() -> None:
    needed = stake_for_energy(TRANSFER_ENERGY_TO_HOLDER, LIMIT, WEIGHT)

    assert needed % TRX == 0
    assert energy_of_stake(needed, LIMIT, WEIGHT) >= TRANSFER_ENERGY_TO_HOLDER
    assert energy_of_stake(needed - TRX, LIMIT, WEIGHT) < TRANSFER_ENERGY_TO_HOLDER


def test_more_energy_than_the_whole_network_makes_is_unreachable() -> None:
    with pytest.raises(FailedPrecondition) as raised:
        stake_for_energy(LIMIT, LIMIT, WEIGHT)
    assert raised.value.reason == "TARGET_UNREACHABLE"


def test_used_energy_recovers_linearly_over_the_day() -> None:
    found = forecast(account(energy_limit=100_000, energy_used=48_000), now_ms=0, energy_price_sun=100)

    assert [p.energy_available for p in found.hourly[::6]] == [52_000, 64_000, 76_000, 88_000, 100_000]
    assert [p.time_ms for p in found.hourly[:2]] == [0, HOUR_MS]
    assert len(found.hourly) == 25


def test_transfers_the_energy_pays_for_are_counted_per_kind_of_recipient() -> None:
    found = forecast(account(energy_limit=10 * TRANSFER_ENERGY_TO_NEW_HOLDER), now_ms=0, energy_price_sun=100)

    assert found.usdt_transfers_to_new_holders_per_day == 10
    assert found.usdt_transfers_to_holders_per_day == 10 * TRANSFER_ENERGY_TO_NEW_HOLDER // TRANSFER_ENERGY_TO_HOLDER


def test_planned_transfers_within_the_energy_leave_no_shortfall() -> None:
    found = forecast(account(energy_limit=3 * TRANSFER_ENERGY_TO_HOLDER), now_ms=0, energy_price_sun=100,
                     planned_usdt_transfers=3)

    assert (found.planned_usdt_transfers, found.energy_shortfall) == (3, 0)
    assert found.hourly[-1].energy_available < 3 * TRANSFER_ENERGY_TO_HOLDER


def test_planned_transfers_beyond_the_energy_are_a_shortfall() -> None:
    found = forecast(account(energy_limit=TRANSFER_ENERGY_TO_HOLDER), now_ms=0, energy_price_sun=100,
                     planned_usdt_transfers=4)

    assert found.energy_shortfall > 2 * TRANSFER_ENERGY_TO_HOLDER


def test_a_target_beyond_the_energy_needs_stake_and_burns_without_it() -> None:
    found = forecast(account(energy_limit=TRANSFER_ENERGY_TO_HOLDER), now_ms=0, energy_price_sun=100,
                     target_usdt_transfers_per_day=5)

    missing = 4 * TRANSFER_ENERGY_TO_HOLDER
    assert found.daily_burn_without_stake_sun == missing * 100
    assert found.stake_needed_sun == stake_for_energy(missing, LIMIT, WEIGHT)


def test_a_covered_target_needs_no_stake() -> None:
    found = forecast(account(energy_limit=5 * TRANSFER_ENERGY_TO_HOLDER), now_ms=0, energy_price_sun=100,
                     target_usdt_transfers_per_day=5)

    assert (found.stake_needed_sun, found.daily_burn_without_stake_sun) == (0, 0)


def test_an_additional_stake_adds_its_energy() -> None:
    found = forecast(account(energy_limit=1_000), now_ms=0, energy_price_sun=100,
                     additional_energy_stake_sun=10_000 * TRX)

    assert found.energy_per_day == 1_000 + energy_of_stake(10_000 * TRX, LIMIT, WEIGHT)


def test_bandwidth_per_day_counts_staked_and_free_points() -> None:
    found = forecast(account(bandwidth_limit=5_000), now_ms=0, energy_price_sun=100)

    assert found.bandwidth_per_day == 5_600
    assert found.hourly[0].bandwidth_available == 5_600

"""The arithmetic of energy plans: the margin rounds up, and the stake lent always yields the energy asked for under
TRON's rounding (staked TRX x TotalEnergyLimit / TotalEnergyWeight, each division rounded down)."""

from __future__ import annotations

import pytest

from lucid.tron.v1 import common_pb2
from lucid_tron.errors import FailedPrecondition
from lucid_tron.services.staking.delegations import stake_for_energy
from lucid_tron.services.staking.energy import EnergyPolicy

SUN = 1_000_000


def policy(margin_percent: int) -> EnergyPolicy:
    return EnergyPolicy(margin_percent=margin_percent, max_burn_sun=0, delegation=True, timeout_s=1, wait_s=1)


def totals(limit: int, weight: int) -> common_pb2.AccountResources:
    return common_pb2.AccountResources(total_energy_limit=limit, total_energy_weight=weight)


def test_the_margin_rounds_up() -> None:
    assert policy(30).planned(64_285) == 83_571  # 83,570.5
    assert policy(0).planned(64_285) == 64_285


@pytest.mark.parametrize("energy", [1, 9, 10, 64_285, 130_285, 1_000_000])
@pytest.mark.parametrize(("limit", "weight"), [(90_000_000_000, 19_000_000_000), (180_000_000_000, 12_345_678_901)])
def test_the_stake_lent_yields_at_least_the_energy_asked_for(energy: int, limit: int, weight: int) -> None:
    stake = stake_for_energy(energy, totals(limit, weight))

    assert stake % SUN == 0 and stake >= SUN
    assert stake // SUN * limit // weight >= energy


def test_without_network_totals_no_stake_is_computed() -> None:
    with pytest.raises(FailedPrecondition):
        stake_for_energy(64_285, totals(0, 0))

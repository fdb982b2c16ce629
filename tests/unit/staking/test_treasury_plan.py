"""How a sweep ends and how much energy and stake it asks for: the pure rules of `treasury` (no I/O)."""

from __future__ import annotations

from typing import Any

from lucid_tron.services.staking import treasury as t


def step(kind: str, state: str = t.STEP_CONFIRMED, amount: int = 0) -> dict[str, Any]:
    return {"kind": kind, "state": state, "amount": amount}


def sweep(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"steps": list(steps), "asset": "USDT"}


def test_a_sweep_without_a_confirmed_transfer_goes_on():
    assert t.ending(sweep(step(t.ACTIVATE), step(t.DELEGATE, amount=5))) is None


def test_a_confirmed_transfer_takes_the_delegation_back_before_the_sweep_ends():
    lent = sweep(step(t.ACTIVATE), step(t.DELEGATE, amount=7_000_000), step(t.TRANSFER))
    assert t.ending(lent) == t.Next(kind=t.UNDELEGATE, amount=7_000_000)
    assert t.ending(sweep(*lent["steps"], step(t.UNDELEGATE, amount=7_000_000))) == t.Next(final=t.SWEPT)


def test_a_delegation_taken_back_by_an_expired_undelegation_is_still_lent():
    lent = sweep(step(t.DELEGATE, amount=3), step(t.TRANSFER), step(t.UNDELEGATE, state=t.STEP_EXPIRED, amount=3))
    assert t.ending(lent) == t.Next(kind=t.UNDELEGATE, amount=3)


def test_three_failed_transfers_end_the_sweep_failed_after_the_delegation_comes_back():
    failed = [step(t.TRANSFER, state=t.STEP_FAILED)] * t.MAX_TRANSFER_FAILURES
    lent = sweep(step(t.DELEGATE, amount=4), *failed)
    assert t.ending(lent) == t.Next(kind=t.UNDELEGATE, amount=4)
    ended = t.ending(sweep(*lent["steps"], step(t.UNDELEGATE, amount=4)))
    assert ended is not None and ended.final == t.FAILED and "failed 3 times" in ended.reason


def test_too_many_steps_end_the_sweep_even_without_a_failed_transfer():
    expired = [step(t.ACTIVATE, state=t.STEP_EXPIRED)] * t.MAX_STEPS
    ended = t.ending(sweep(*expired))
    assert ended is not None and ended.final == t.FAILED


def test_energy_is_the_estimate_plus_the_margin_doubled_per_failed_transfer():
    assert t.energy_needed(64_285, 10_000, 0) == 128_570
    assert t.energy_needed(64_285, 0, 0) == 64_285
    assert t.energy_needed(64_285, 2_000, 2) == 77_142 * 4


def test_stake_for_energy_covers_the_energy_in_whole_trx_with_one_more_for_rounding():
    # 10 energy per staked TRX: 128,570 energy need 12,857 TRX, and one more for TRON's rounding down.
    assert t.stake_for_energy(128_570, 90_000_000_000, 9_000_000_000) == 12_858_000_000
    assert t.stake_for_energy(1, 90_000_000_000, 9_000_000_000) == 2_000_000


def test_without_network_totals_the_stake_is_the_least_delegation():
    assert t.stake_for_energy(128_570, 0, 0) == t.MIN_DELEGATION_SUN

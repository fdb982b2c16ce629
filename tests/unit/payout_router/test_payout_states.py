"""The rules of a payout's life and of the fault breaker, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lucid_tron.errors import FailedPrecondition, PermissionDenied
from lucid_tron.services.payout_router import breaker, states
from lucid_tron.services.payout_router.limits import BreakerPolicy

ALICE = "spiffe://lucid/operator/alice"
BOB = "spiffe://lucid/operator/bob"
NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
POLICY = BreakerPolicy(failure_threshold=3, recovery_s=300, half_open_max_calls=2)


def payout(state: str = states.AWAITING_APPROVAL, **fields) -> dict:
    return {"_id": "po_1", "state": state, "creator": ALICE, "attempts": [], "txid": "", "batch_id": "",
            "failed_by": "", "state_reason": "", **fields}


def signed(state: str = states.SIGNED) -> dict:
    attempt = {"number": 1, "txid": "ab" * 32, "state": states.ATTEMPT_SIGNED}
    return payout(state, attempts=[attempt], txid=attempt["txid"])


def test_a_second_identity_approves():
    assert states.approve(payout(), BOB).changes == {"state": states.APPROVED, "approver": BOB}


def test_the_creator_cannot_approve():
    with pytest.raises(PermissionDenied) as refused:
        states.approve(payout(), ALICE)
    assert refused.value.reason == states.SELF_APPROVAL


def test_the_creator_cannot_reject_either():
    with pytest.raises(PermissionDenied):
        states.reject(payout(), ALICE, "no")


def test_a_caller_without_identity_cannot_approve():
    with pytest.raises(PermissionDenied) as refused:
        states.approve(payout(), None)
    assert refused.value.reason == states.APPROVER_UNKNOWN


@pytest.mark.parametrize("state", [states.APPROVED, states.CANCELLED, states.SIGNED, states.CONFIRMED])
def test_only_a_payout_awaiting_approval_is_approved(state):
    with pytest.raises(FailedPrecondition):
        states.approve(payout(state), BOB)


@pytest.mark.parametrize("state", [states.AWAITING_APPROVAL, states.APPROVED, states.HELD])
def test_a_payout_not_yet_signed_can_be_cancelled(state):
    assert states.cancel(payout(state), "").changes["state"] == states.CANCELLED


@pytest.mark.parametrize("state", [states.SIGNED, states.BROADCAST, states.CONFIRMED, states.FAILED])
def test_a_signed_payout_cannot_be_cancelled(state):
    with pytest.raises(FailedPrecondition):
        states.cancel(signed(state), "")


def test_a_broadcast_is_announced_once():
    first = states.broadcast(signed())
    assert first is not None and first.event_type == "payout.broadcast"
    assert states.broadcast(signed(states.BROADCAST)) is None


def test_an_expired_attempt_sends_the_payout_back_to_signing_with_the_attempt_kept():
    transition = states.expire_attempt(signed(states.BROADCAST), "proven lost")
    assert transition.changes["state"] == states.APPROVED
    assert transition.changes["attempts"][0]["state"] == states.ATTEMPT_EXPIRED
    assert transition.event_type is None


def test_windows_are_utc_hours_and_days():
    assert states.window_keys(NOW) == {"hour": "2026-12-07T03", "day": "2026-12-07"}


def test_the_breaker_opens_at_the_failure_threshold():
    current = breaker.initial()
    for _ in range(3):
        current = breaker.failed(current, POLICY, NOW, "refused")
    assert (current["state"], current["cause"]) == (breaker.OPEN, breaker.FAULT)
    assert current["next_probe_at"] == NOW + timedelta(seconds=300)
    assert breaker.admit(current, POLICY, NOW) is None


def test_after_the_recovery_time_at_most_the_half_open_calls_are_admitted():
    current = {**breaker.initial(), "state": breaker.OPEN, "cause": breaker.FAULT, "next_probe_at": NOW}
    first = breaker.admit(current, POLICY, NOW)
    assert first is not None and first["state"] == breaker.HALF_OPEN
    second = breaker.admit(first, POLICY, NOW)
    assert second is not None
    assert breaker.admit(second, POLICY, NOW) is None


def test_a_success_while_half_open_closes_and_a_failure_reopens():
    half_open = {**breaker.initial(), "state": breaker.HALF_OPEN, "failures": 3, "half_open_calls": 1}
    assert breaker.succeeded(half_open)["state"] == breaker.CLOSED
    assert breaker.failed(half_open, POLICY, NOW, "again")["state"] == breaker.OPEN


def test_an_operator_opened_breaker_admits_nothing_until_closed():
    opened = breaker.set_by_operator(breaker.initial(), True, "audit")
    assert breaker.admit(opened, POLICY, NOW + timedelta(days=1)) is None
    assert breaker.admit(breaker.set_by_operator(opened, False, "done"), POLICY, NOW) is not None


def test_a_success_closes_a_breaker_opened_by_faults_but_not_by_an_operator():
    by_faults = {**breaker.initial(), "state": breaker.OPEN, "cause": breaker.FAULT, "failures": 3}
    by_operator = breaker.set_by_operator(breaker.initial(), True, "audit")
    assert breaker.succeeded(by_faults)["state"] == breaker.CLOSED
    assert breaker.succeeded(by_operator)["state"] == breaker.OPEN


def test_a_closed_breaker_that_admits_or_succeeds_is_not_written_again():
    stored = {**breaker.initial(), "_id": "fault"}
    assert not breaker.changed(stored, breaker.admit(stored, POLICY, NOW))
    assert not breaker.changed(stored, breaker.succeeded(stored))
    assert breaker.changed(stored, breaker.failed(stored, POLICY, NOW, "refused"))

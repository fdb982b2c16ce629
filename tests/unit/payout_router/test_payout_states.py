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


def test_an_operator_fails_a_payout_whose_attempts_were_all_proven_lost_at_once():
    expired = {"number": 1, "txid": "ab" * 32, "state": states.ATTEMPT_EXPIRED}
    transition = states.fail_by_operator(payout(states.APPROVED, attempts=[expired]), BOB, "account closed")
    assert transition is not None
    assert transition.changes == {"state": states.FAILED, "failed_by": BOB, "state_reason": "account closed"}
    assert transition.event_type == "payout.failed" and transition.data == {"failed_by": BOB}


@pytest.mark.parametrize("state", [states.SIGNED, states.BROADCAST])
def test_an_operator_failing_a_payout_in_flight_only_records_the_decision(state):
    transition = states.fail_by_operator(signed(state), BOB, "account closed")
    assert transition is not None
    assert transition.changes == {"failed_by": BOB, "state_reason": "account closed"}
    assert transition.event_type is None
    assert states.fail_by_operator({**signed(state), "failed_by": BOB}, ALICE, "again") is None


def test_the_recorded_decision_fails_the_payout_once_its_attempt_is_proven_lost():
    decided = {**signed(states.BROADCAST), "failed_by": BOB, "state_reason": "account closed"}
    transition = states.lost_after_failure_decision(decided, "proven lost")
    assert transition.changes["state"] == states.FAILED
    assert transition.changes["attempts"][0]["state"] == states.ATTEMPT_EXPIRED
    assert transition.event_type == "payout.failed"
    assert transition.data == {"failed_by": BOB, "proof": "proven lost"}


@pytest.mark.parametrize("state", [states.AWAITING_APPROVAL, states.APPROVED, states.HELD, states.CONFIRMED,
                                   states.CANCELLED])
def test_a_payout_never_signed_or_final_is_not_failed_by_an_operator(state):
    with pytest.raises(FailedPrecondition):
        states.fail_by_operator(payout(state), BOB, "no")


def test_failing_a_payout_needs_an_identity():
    with pytest.raises(PermissionDenied) as refused:
        states.fail_by_operator(signed(), None, "no")
    assert refused.value.reason == states.APPROVER_UNKNOWN


def test_a_payout_of_a_batch_is_decided_with_its_batch_only():
    with pytest.raises(FailedPrecondition) as refused:
        states.approve(payout(batch_id="pb_1"), BOB)
    assert refused.value.reason == states.IN_BATCH


def test_the_creator_of_a_batch_cannot_decide_it():
    batch = {"_id": "pb_1", "state": states.BATCH_AWAITING_APPROVAL, "creator": ALICE}
    with pytest.raises(PermissionDenied) as refused:
        states.decide_batch(batch, ALICE, True, "")
    assert refused.value.reason == states.SELF_APPROVAL
    assert states.decide_batch(batch, BOB, False, "no") == {"state": states.BATCH_REJECTED, "approver": BOB,
                                                            "state_reason": "no"}

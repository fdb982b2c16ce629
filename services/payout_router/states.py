"""The rules of a payout's life: which change is allowed from which state, and what it leads to.

Pure functions over the stored payout document (see `store`): each returns a `Transition` (the fields that change and
the event that announces them, None for no event) or raises `lucid_tron.errors`; `payouts` and `executor` commit the
transition and its event together.

    AWAITING_APPROVAL -> APPROVED -> SIGNED -> BROADCAST -> CONFIRMED | FAILED
           |               |  ^ HELD   |  (attempt proven expired: back to APPROVED, re-signed as a new attempt)
           v               v
       REJECTED        CANCELLED (until signed)

FAILED is a failed receipt, or an operator's decision (`fail_by_operator`) that takes effect only once the chain
proved no attempt can still land. The payouts of a batch are approved and rejected with their batch (`decide_batch`),
never alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lucid_tron.errors import FailedPrecondition, PermissionDenied

from . import events

AWAITING_APPROVAL = "AWAITING_APPROVAL"
APPROVED = "APPROVED"
HELD = "HELD"
SIGNED = "SIGNED"
BROADCAST = "BROADCAST"
CONFIRMED = "CONFIRMED"
FAILED = "FAILED"
REJECTED = "REJECTED"
CANCELLED = "CANCELLED"
#: Final: nothing changes them again.
FINAL = frozenset({CONFIRMED, FAILED, REJECTED, CANCELLED})
#: Final without paying: their share of the limits is given back.
RELEASED = frozenset({FAILED, REJECTED, CANCELLED})
#: Waiting for the executor to sign.
TO_SIGN = frozenset({APPROVED, HELD})
#: A signed transaction exists that the executor follows.
IN_FLIGHT = frozenset({SIGNED, BROADCAST})

ATTEMPT_SIGNED = "SIGNED"
ATTEMPT_BROADCAST = "BROADCAST"
ATTEMPT_CONFIRMED = "CONFIRMED"
ATTEMPT_FAILED = "FAILED"
ATTEMPT_EXPIRED = "EXPIRED"

BATCH_AWAITING_APPROVAL = "AWAITING_APPROVAL"
BATCH_APPROVED = "APPROVED"
BATCH_REJECTED = "REJECTED"

SELF_APPROVAL = "SELF_APPROVAL"
IN_BATCH = "IN_BATCH"
APPROVER_UNKNOWN = "APPROVER_UNKNOWN"
PAYOUT_STATE = "PAYOUT_STATE"

Payout = Mapping[str, Any]


@dataclass(frozen=True)
class Transition:
    """What changes (`changes`, top-level fields of the payout) and the event that says so (None: no event)."""

    changes: Mapping[str, Any]
    event_type: str | None
    reason: str
    data: Mapping[str, Any] = field(default_factory=dict)


def approve(payout: Payout, approver: str | None) -> Transition:
    """AWAITING_APPROVAL -> APPROVED by `approver`, the caller's authenticated identity, never the creator."""
    _decider(payout, approver)
    _alone(payout)
    if payout["state"] != AWAITING_APPROVAL:
        raise _refused(payout, "only a payout AWAITING_APPROVAL can be approved")
    return approved_with_batch(payout, approver or "")


def reject(payout: Payout, approver: str | None, reason: str) -> Transition:
    """AWAITING_APPROVAL -> REJECTED by `approver` (the same identity rules as `approve`)."""
    _decider(payout, approver)
    _alone(payout)
    if payout["state"] != AWAITING_APPROVAL:
        raise _refused(payout, "only a payout AWAITING_APPROVAL can be rejected")
    return rejected_with_batch(payout, approver or "", reason)


def approved_with_batch(payout: Payout, approver: str) -> Transition:
    """AWAITING_APPROVAL -> APPROVED, the approver already checked (alone, or for its batch by `decide_batch`)."""
    return Transition({"state": APPROVED, "approver": approver}, events.PAYOUT_APPROVED, f"approved by {approver}")


def rejected_with_batch(payout: Payout, approver: str, reason: str) -> Transition:
    """AWAITING_APPROVAL -> REJECTED, the rejecter already checked."""
    return Transition(
        {"state": REJECTED, "approver": approver, "state_reason": reason}, events.PAYOUT_REJECTED, reason
    )


def decide_batch(batch: Payout, approver: str | None, approve_it: bool, reason: str) -> dict[str, Any]:
    """The batch's changes when `approver` approves (`approve_it`) or rejects it: the same identity rules as for a
    payout; its payouts still AWAITING_APPROVAL follow with `approved_with_batch` or `rejected_with_batch`."""
    _decider(batch, approver)
    if batch["state"] != BATCH_AWAITING_APPROVAL:
        raise FailedPrecondition(
            f"only a batch AWAITING_APPROVAL can be approved or rejected; the batch is {batch['state']}",
            reason=PAYOUT_STATE, subject=batch["_id"],
        )
    if approve_it:
        return {"state": BATCH_APPROVED, "approver": approver}
    return {"state": BATCH_REJECTED, "approver": approver, "state_reason": reason}


def fail_by_operator(payout: Payout, operator: str | None, reason: str) -> Transition | None:
    """An operator gives the payout up. FAILED at once when no attempt is in flight (every one was proven lost, the
    payout back in APPROVED or HELD); while one is, only the decision is recorded (`failed_by`) and
    `lost_after_failure_decision` makes it FAILED once the chain proves the attempt lost. None when already recorded."""
    if not operator:
        raise PermissionDenied("failing a payout needs an authenticated identity (mutual TLS)", reason=APPROVER_UNKNOWN)
    if payout["state"] in TO_SIGN and payout["attempts"]:
        return Transition(
            {"state": FAILED, "failed_by": operator, "state_reason": reason}, events.PAYOUT_FAILED, reason,
            {"failed_by": operator},
        )
    if payout["state"] in IN_FLIGHT:
        if payout["failed_by"]:
            return None
        return Transition({"failed_by": operator, "state_reason": reason}, None,
                          f"{operator} asked for FAILED: {reason}")
    if payout["state"] in TO_SIGN:
        raise _refused(payout, "a payout never signed is cancelled, not failed")
    raise _refused(payout, "only a signed payout that is not final can be failed")


def lost_after_failure_decision(payout: Payout, proof: str) -> Transition:
    """SIGNED or BROADCAST -> FAILED: an operator decided so, and the chain proved the attempt can never land."""
    _in_flight(payout)
    attempts = _with_last(payout, state=ATTEMPT_EXPIRED, result_message=proof)
    return Transition(
        {"state": FAILED, "attempts": attempts}, events.PAYOUT_FAILED, payout["state_reason"],
        {"failed_by": payout["failed_by"], "proof": proof},
    )


def cancel(payout: Payout, reason: str) -> Transition | None:
    """Before signing -> CANCELLED; None when already cancelled."""
    if payout["state"] == CANCELLED:
        return None
    if payout["state"] not in (AWAITING_APPROVAL, *TO_SIGN):
        raise _refused(payout, "only a payout not yet signed can be cancelled")
    reason = reason or "cancelled"
    return Transition({"state": CANCELLED, "state_reason": reason}, events.PAYOUT_CANCELLED, reason)


def hold(payout: Payout, why: str) -> Transition | None:
    """APPROVED -> HELD while the breaker is open; None when already held."""
    if payout["state"] != APPROVED:
        return None
    return Transition({"state": HELD, "state_reason": why}, events.PAYOUT_HELD, why)


def sign(payout: Payout, attempt: Mapping[str, Any], from_address: str) -> Transition:
    """APPROVED or HELD -> SIGNED with a new attempt paid from `from_address`, stored before anything is broadcast."""
    if payout["state"] not in TO_SIGN:
        raise _refused(payout, "only an approved payout can be signed")
    attempts = [*payout["attempts"], dict(attempt)]
    return Transition(
        {"state": SIGNED, "attempts": attempts, "txid": attempt["txid"], "state_reason": "",
         "from_address": from_address},
        None,
        f"attempt {attempt['number']} signed: {attempt['txid']}",
    )


def broadcast(payout: Payout) -> Transition | None:
    """SIGNED -> BROADCAST once a node took the transaction (or already had it); None when already broadcast."""
    if payout["state"] != SIGNED:
        return None
    attempts = _with_last(payout, state=ATTEMPT_BROADCAST)
    return Transition(
        {"state": BROADCAST, "attempts": attempts}, events.PAYOUT_BROADCAST, f"broadcast {payout['txid']}",
        {"txid": payout["txid"]},
    )


def confirm(payout: Payout, block_number: int, fee_sun: int, result: str) -> Transition:
    """SIGNED or BROADCAST -> CONFIRMED: solidified with SUCCESS and the expected transfer."""
    _in_flight(payout)
    attempts = _with_last(payout, state=ATTEMPT_CONFIRMED, block_number=block_number, fee_sun=fee_sun,
                          result=result, result_message="SUCCESS")
    return Transition(
        {"state": CONFIRMED, "attempts": attempts, "block_number": block_number, "fee_sun": fee_sun},
        events.PAYOUT_CONFIRMED,
        f"confirmed in block {block_number}",
        {"txid": payout["txid"], "block_number": block_number},
    )


def fail(payout: Payout, block_number: int, fee_sun: int, result: str, why: str) -> Transition:
    """SIGNED or BROADCAST -> FAILED: solidified, but the receipt failed (or the transfer is not the expected one)."""
    _in_flight(payout)
    attempts = _with_last(payout, state=ATTEMPT_FAILED, block_number=block_number, fee_sun=fee_sun,
                          result=result, result_message=why)
    return Transition(
        {"state": FAILED, "attempts": attempts, "block_number": block_number, "fee_sun": fee_sun,
         "state_reason": why},
        events.PAYOUT_FAILED,
        why,
        {"txid": payout["txid"], "block_number": block_number},
    )


def expire_attempt(payout: Payout, proof: str) -> Transition:
    """SIGNED or BROADCAST -> APPROVED: the chain proved the attempt can never land, so a new one may be signed."""
    _in_flight(payout)
    attempts = _with_last(payout, state=ATTEMPT_EXPIRED, result_message=proof)
    return Transition({"state": APPROVED, "attempts": attempts, "txid": "", "state_reason": proof}, None, proof)


def last_attempt(payout: Payout) -> Mapping[str, Any]:
    return payout["attempts"][-1]


def _with_last(payout: Payout, **changes: Any) -> list[dict[str, Any]]:
    attempts = [dict(attempt) for attempt in payout["attempts"]]
    attempts[-1].update(changes)
    return attempts


def _in_flight(payout: Payout) -> None:
    if payout["state"] not in IN_FLIGHT:
        raise _refused(payout, "the payout has no transaction in flight")


def _decider(payout: Payout, approver: str | None) -> None:
    if not approver:
        raise PermissionDenied(
            "approving or rejecting needs an authenticated identity (mutual TLS)", reason=APPROVER_UNKNOWN
        )
    if approver == payout["creator"]:
        raise PermissionDenied("the creator of a payout cannot approve or reject it", reason=SELF_APPROVAL)


def _alone(payout: Payout) -> None:
    if payout["batch_id"]:
        raise FailedPrecondition(
            f"the payout belongs to batch {payout['batch_id']}: approve or reject the batch", reason=IN_BATCH,
            subject=payout["_id"],
        )


def _refused(payout: Payout, message: str) -> FailedPrecondition:
    return FailedPrecondition(f"{message}; the payout is {payout['state']}", reason=PAYOUT_STATE,
                              subject=payout["_id"])


def window_keys(at: datetime) -> dict[str, str]:
    """The UTC hour and day windows a payout created at `at` counts in."""
    return {"hour": at.strftime("%Y-%m-%dT%H"), "day": at.strftime("%Y-%m-%d")}

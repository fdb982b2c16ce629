"""payout-router's proto side: the name of lucid.tron.v1.PayoutRouterService, the checks of its requests (every bad
field named at once) and the mapping between its messages and the stored documents of `payouts`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from google.protobuf import timestamp_pb2

from lucid.tron.v1 import common_pb2
from lucid.tron.v1 import payout_router_pb2 as pr
from lucid_tron.validation import FieldChecks

from . import breaker, states
from .limits import Policy
from .payouts import AssetUse, NewPayout

SERVICE_NAME: str = pr.DESCRIPTOR.services_by_name["PayoutRouterService"].full_name

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_TEXT = 256
MAX_REQUEST_ID = 128
MAX_BATCH = 100
_PAYOUT_ID = re.compile(r"po_[0-9a-f]{24}")
_BATCH_ID = re.compile(r"pb_[0-9a-f]{24}")
_PAGE_TOKEN = re.compile(r"(\d{1,15})\.(po|pb)_([0-9a-f]{24})")

ASSETS_BY_NUMBER = {common_pb2.ASSET_TRX: "TRX", common_pb2.ASSET_USDT: "USDT"}
NUMBERS_BY_ASSET = {asset: number for number, asset in ASSETS_BY_NUMBER.items()}
STATES_BY_NUMBER = {
    pr.PAYOUT_STATE_AWAITING_APPROVAL: states.AWAITING_APPROVAL,
    pr.PAYOUT_STATE_APPROVED: states.APPROVED,
    pr.PAYOUT_STATE_HELD: states.HELD,
    pr.PAYOUT_STATE_SIGNED: states.SIGNED,
    pr.PAYOUT_STATE_BROADCAST: states.BROADCAST,
    pr.PAYOUT_STATE_CONFIRMED: states.CONFIRMED,
    pr.PAYOUT_STATE_FAILED: states.FAILED,
    pr.PAYOUT_STATE_REJECTED: states.REJECTED,
    pr.PAYOUT_STATE_CANCELLED: states.CANCELLED,
}
NUMBERS_BY_STATE = {state: number for number, state in STATES_BY_NUMBER.items()}
BATCH_STATES_BY_NUMBER = {
    pr.PAYOUT_BATCH_STATE_AWAITING_APPROVAL: states.BATCH_AWAITING_APPROVAL,
    pr.PAYOUT_BATCH_STATE_APPROVED: states.BATCH_APPROVED,
    pr.PAYOUT_BATCH_STATE_REJECTED: states.BATCH_REJECTED,
}
NUMBERS_BY_BATCH_STATE = {state: number for number, state in BATCH_STATES_BY_NUMBER.items()}
NUMBERS_BY_ATTEMPT_STATE = {
    states.ATTEMPT_SIGNED: pr.ATTEMPT_STATE_SIGNED,
    states.ATTEMPT_BROADCAST: pr.ATTEMPT_STATE_BROADCAST,
    states.ATTEMPT_CONFIRMED: pr.ATTEMPT_STATE_CONFIRMED,
    states.ATTEMPT_FAILED: pr.ATTEMPT_STATE_FAILED,
    states.ATTEMPT_EXPIRED: pr.ATTEMPT_STATE_EXPIRED,
}
NUMBERS_BY_BREAKER_STATE = {
    breaker.CLOSED: pr.BREAKER_STATE_CLOSED,
    breaker.OPEN: pr.BREAKER_STATE_OPEN,
    breaker.HALF_OPEN: pr.BREAKER_STATE_HALF_OPEN,
}
NUMBERS_BY_CAUSE = {
    "": pr.BREAKER_CAUSE_UNSPECIFIED,
    breaker.LIMIT: pr.BREAKER_CAUSE_LIMIT,
    breaker.FAULT: pr.BREAKER_CAUSE_FAULT,
    breaker.OPERATOR: pr.BREAKER_CAUSE_OPERATOR,
}
SETTABLE_BREAKER_STATES = {pr.BREAKER_STATE_OPEN: True, pr.BREAKER_STATE_CLOSED: False}


def new_payout(check: FieldChecks, request: pr.CreatePayoutRequest, policy: Policy) -> NewPayout | None:
    """The checked payout of a CreatePayout request; None (with the violations in `check`) when it is bad."""
    check.string("request_id", request.request_id, max_length=MAX_REQUEST_ID)
    return _payout(check, "payout", request.payout, policy)


def new_batch(check: FieldChecks, request: pr.CreatePayoutBatchRequest,
              policy: Policy) -> tuple[list[NewPayout], str] | None:
    """The checked payouts and reference of a CreatePayoutBatch request; None (with every bad field of every payout
    in `check`) when it is bad."""
    check.string("request_id", request.request_id, max_length=MAX_REQUEST_ID)
    batch = request.batch
    reference = check.string("batch.reference", batch.reference, required=False, max_length=MAX_TEXT) or ""
    if not 1 <= len(batch.payouts) <= MAX_BATCH:
        check.fail("batch.payouts", f"must hold 1 to {MAX_BATCH} payouts, got {len(batch.payouts)}")
        return None
    payouts = [_payout(check, f"batch.payouts[{index}]", payout, policy) for index, payout in enumerate(batch.payouts)]
    checked = [payout for payout in payouts if payout is not None]
    if len(checked) != len(payouts):
        return None
    return checked, reference


def _payout(check: FieldChecks, field: str, payout: pr.Payout, policy: Policy) -> NewPayout | None:
    recipient = check.address(f"{field}.recipient", payout.recipient)
    asset = check.enum(f"{field}.asset", payout.asset, ASSETS_BY_NUMBER)
    amount = check.amount(f"{field}.amount_base_units", payout.amount_base_units)
    if asset is not None and amount is not None:
        bounds = policy.assets[asset]
        if not bounds.minimum <= amount <= bounds.maximum:
            check.fail(f"{field}.amount_base_units",
                       f"must be between {bounds.minimum} and {bounds.maximum} base units of {asset}, got {amount}")
            amount = None
    reference = check.string(f"{field}.reference", payout.reference, required=False, max_length=MAX_TEXT) or ""
    if recipient is None or asset is None or amount is None:
        return None
    return NewPayout(recipient, asset, amount, reference)


def payout_id(check: FieldChecks, value: str, field: str = "payout_id") -> str | None:
    return check.pattern(field, value, _PAYOUT_ID, expected='a payout id ("po_" and 24 hex digits)')


def batch_id(check: FieldChecks, value: str, field: str = "batch_id") -> str | None:
    return check.pattern(field, value, _BATCH_ID, expected='a batch id ("pb_" and 24 hex digits)')


def list_query(check: FieldChecks, request: pr.ListPayoutsRequest) -> dict[str, Any]:
    """The MongoDB filter of a ListPayouts request."""
    query: dict[str, Any] = {}
    wanted = [check.enum("states", number, STATES_BY_NUMBER) for number in request.states]
    if wanted:
        query["state"] = {"$in": wanted}
    if request.recipient:
        query["recipient"] = check.address("recipient", request.recipient)
    asset = check.enum("asset", request.asset, ASSETS_BY_NUMBER, unspecified="")
    if asset:
        query["asset"] = asset
    if request.batch_id:
        query["batch_id"] = batch_id(check, request.batch_id)
    return query


def batch_query(check: FieldChecks, request: pr.ListPayoutBatchesRequest) -> dict[str, Any]:
    """The MongoDB filter of a ListPayoutBatches request."""
    wanted = [check.enum("states", number, BATCH_STATES_BY_NUMBER) for number in request.states]
    return {"state": {"$in": wanted}} if wanted else {}


def page_token(check: FieldChecks, value: str, prefix: str = "po") -> tuple[datetime, str] | None:
    """The (creation time, payout or batch id) a next_page_token names; None for the first page."""
    if not value:
        return None
    match = _PAGE_TOKEN.fullmatch(value)
    if match is None or match.group(2) != prefix:
        check.fail("page_token", "is not a next_page_token of this list")
        return None
    return datetime.fromtimestamp(int(match.group(1)) / 1000, UTC), f"{match.group(2)}_{match.group(3)}"


def next_page_token(after: tuple[datetime, str] | None) -> str:
    if after is None:
        return ""
    created_at, last_id = after
    return f"{int(created_at.timestamp() * 1000)}.{last_id}"


# -- responses ----------------------------------------------------------------------------------------------------


def timestamp(at: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(at)
    return stamp


def attempt_message(attempt: Mapping[str, Any]) -> pr.PayoutAttempt:
    return pr.PayoutAttempt(
        number=attempt["number"],
        txid=attempt["txid"],
        state=NUMBERS_BY_ATTEMPT_STATE[attempt["state"]],
        expiration_time=timestamp(attempt["expiration"]),
        signed_transaction=attempt["signed_transaction"],
        block_number=attempt["block_number"],
        fee_sun=attempt["fee_sun"],
        result=common_pb2.ExecutionResult.Value(attempt["result"]) if attempt["result"] else 0,
        result_message=attempt["result_message"],
        create_time=timestamp(attempt["created_at"]),
    )


def payout_message(payout: Mapping[str, Any]) -> pr.Payout:
    return pr.Payout(
        payout_id=payout["_id"],
        state=NUMBERS_BY_STATE[payout["state"]],
        recipient=payout["recipient"],
        asset=NUMBERS_BY_ASSET[payout["asset"]],
        amount_base_units=payout["amount"],
        reference=payout["reference"],
        request_id=payout["request_id"],
        from_address=payout["from_address"],
        approval_required=payout["approval_required"],
        creator=payout["creator"],
        approver=payout["approver"],
        state_reason=payout["state_reason"],
        txid=payout["txid"],
        block_number=payout["block_number"],
        fee_sun=payout["fee_sun"],
        attempts=[attempt_message(attempt) for attempt in payout["attempts"]],
        etag=payout["etag"],
        create_time=timestamp(payout["created_at"]),
        update_time=timestamp(payout["updated_at"]),
        batch_id=payout["batch_id"],
        failed_by=payout["failed_by"],
        caller_role=payout["role"],
    )


def batch_message(batch: Mapping[str, Any], payouts: Sequence[Mapping[str, Any]] = ()) -> pr.PayoutBatch:
    return pr.PayoutBatch(
        batch_id=batch["_id"],
        state=NUMBERS_BY_BATCH_STATE[batch["state"]],
        payouts=[payout_message(payout) for payout in payouts],
        reference=batch["reference"],
        request_id=batch["request_id"],
        approval_required=batch["approval_required"],
        creator=batch["creator"],
        approver=batch["approver"],
        state_reason=batch["state_reason"],
        totals=[pr.PayoutBatchTotal(asset=NUMBERS_BY_ASSET[total["asset"]], amount_base_units=total["amount"],
                                    payout_count=total["count"]) for total in batch["totals"]],
        payout_count=batch["payout_count"],
        etag=batch["etag"],
        create_time=timestamp(batch["created_at"]),
        update_time=timestamp(batch["updated_at"]),
    )


def limits_message(use: AssetUse, policy: Policy) -> pr.AssetLimits:
    asset = policy.assets[use.asset]
    hourly, daily = asset.hourly_limit, asset.daily_limit
    if use.role:
        own = policy.roles[use.role][use.asset]
        hourly, daily = own.hourly_limit, own.daily_limit
    return pr.AssetLimits(
        asset=NUMBERS_BY_ASSET[use.asset],
        per_payout_min_base_units=asset.minimum,
        per_payout_max_base_units=asset.maximum,
        approval_threshold_base_units=asset.approval_threshold,
        hourly_limit_base_units=hourly,
        hourly_used_base_units=use.hourly_used,
        hourly_headroom_base_units=max(0, hourly - use.hourly_used),
        hourly_reset_time=timestamp(use.resets["hour"]),
        daily_limit_base_units=daily,
        daily_used_base_units=use.daily_used,
        daily_headroom_base_units=max(0, daily - use.daily_used),
        daily_reset_time=timestamp(use.resets["day"]),
        caller_role=use.role,
    )


def breaker_message(current: Mapping[str, Any], policy: Policy) -> pr.Breaker:
    message = pr.Breaker(
        state=NUMBERS_BY_BREAKER_STATE[current["state"]],
        cause=NUMBERS_BY_CAUSE[current["cause"]],
        failure_count=current["failures"],
        failure_threshold=policy.breaker.failure_threshold,
        half_open_calls=current["half_open_calls"],
        half_open_max_calls=policy.breaker.half_open_max_calls,
        reason=current["reason"],
    )
    if current["next_probe_at"] is not None:
        message.next_probe_time.CopyFrom(timestamp(current["next_probe_at"]))
    return message


def recipient_message(listed: Mapping[str, Any]) -> pr.AllowedRecipient:
    return pr.AllowedRecipient(
        address=listed["_id"], label=listed["label"], added_by=listed["added_by"],
        create_time=timestamp(listed["created_at"]),
    )

"""payout-router's proto side: the name of lucid.tron.v1.PayoutRouterService, the checks of its requests (every bad
field named at once) and the mapping between its messages and the stored documents of `payouts`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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
_PAYOUT_ID = re.compile(r"po_[0-9a-f]{24}")
_PAGE_TOKEN = re.compile(r"(\d{1,15})\.(po_[0-9a-f]{24})")

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
    check.string("request_id", request.request_id, max_length=128)
    payout = request.payout
    recipient = check.address("payout.recipient", payout.recipient)
    asset = check.enum("payout.asset", payout.asset, ASSETS_BY_NUMBER)
    amount = check.amount("payout.amount_base_units", payout.amount_base_units)
    if asset is not None and amount is not None:
        bounds = policy.assets[asset]
        if not bounds.minimum <= amount <= bounds.maximum:
            check.fail("payout.amount_base_units",
                       f"must be between {bounds.minimum} and {bounds.maximum} base units of {asset}, got {amount}")
            amount = None
    reference = check.string("payout.reference", payout.reference, required=False, max_length=MAX_TEXT) or ""
    if recipient is None or asset is None or amount is None:
        return None
    return NewPayout(recipient, asset, amount, reference)


def payout_id(check: FieldChecks, value: str, field: str = "payout_id") -> str | None:
    return check.pattern(field, value, _PAYOUT_ID, expected='a payout id ("po_" and 24 hex digits)')


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
    return query


def page_token(check: FieldChecks, value: str) -> tuple[datetime, str] | None:
    """The (creation time, payout id) a ListPayouts next_page_token names; None for the first page."""
    if not value:
        return None
    match = _PAGE_TOKEN.fullmatch(value)
    if match is None:
        check.fail("page_token", "is not a next_page_token of ListPayouts")
        return None
    return datetime.fromtimestamp(int(match.group(1)) / 1000, UTC), match.group(2)


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
    )


def limits_message(use: AssetUse, policy: Policy) -> pr.AssetLimits:
    asset = policy.assets[use.asset]
    return pr.AssetLimits(
        asset=NUMBERS_BY_ASSET[use.asset],
        per_payout_min_base_units=asset.minimum,
        per_payout_max_base_units=asset.maximum,
        approval_threshold_base_units=asset.approval_threshold,
        hourly_limit_base_units=asset.hourly_limit,
        hourly_used_base_units=use.hourly_used,
        hourly_headroom_base_units=max(0, asset.hourly_limit - use.hourly_used),
        hourly_reset_time=timestamp(use.resets["hour"]),
        daily_limit_base_units=asset.daily_limit,
        daily_used_base_units=use.daily_used,
        daily_headroom_base_units=max(0, asset.daily_limit - use.daily_used),
        daily_reset_time=timestamp(use.resets["day"]),
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

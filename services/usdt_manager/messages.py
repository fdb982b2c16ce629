"""usdt-manager's proto side: the name of lucid.tron.v1.UsdtService, the checks of its requests (every bad field
named at once) and the mapping between its messages and the values of the domain modules.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from google.protobuf import timestamp_pb2

from lucid.tron.v1 import common_pb2, staking_pb2, usdt_pb2
from lucid_tron.sending import BROADCAST, SIGNED
from lucid_tron.storage import request_digest
from lucid_tron.validation import FieldChecks

from .energy_plans import SOURCE_NUMBERS
from .estimates import Estimate
from .history import INCOMING, OUTGOING, HistoryEntry, HistoryQuery
from .transfers import APPROVE_METHOD, CONFIRMED, EXPIRED, FAILED, INCLUDED, TRANSFER_METHOD, WriteOrder

SERVICE_NAME: str = usdt_pb2.DESCRIPTOR.services_by_name["UsdtService"].full_name

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_REFERENCE = 128
_WALLET_ID = re.compile(r"w_[0-9a-f]{24}", re.ASCII)
FINALITIES = {common_pb2.FINALITY_HEAD: common_pb2.FINALITY_HEAD, common_pb2.FINALITY_SOLIDIFIED: common_pb2.FINALITY_SOLIDIFIED}
DIRECTIONS = {usdt_pb2.TRANSFER_DIRECTION_INCOMING: INCOMING, usdt_pb2.TRANSFER_DIRECTION_OUTGOING: OUTGOING}
NUMBERS_BY_DIRECTION = {name: number for number, name in DIRECTIONS.items()}
NUMBERS_BY_STATE = {
    SIGNED: usdt_pb2.TRANSFER_STATE_SIGNED,
    BROADCAST: usdt_pb2.TRANSFER_STATE_BROADCAST,
    INCLUDED: usdt_pb2.TRANSFER_STATE_INCLUDED,
    CONFIRMED: usdt_pb2.TRANSFER_STATE_CONFIRMED,
    FAILED: usdt_pb2.TRANSFER_STATE_FAILED,
    EXPIRED: usdt_pb2.TRANSFER_STATE_EXPIRED,
}


# -- requests -----------------------------------------------------------------------------------------------------


def finality(check: FieldChecks, value: int) -> int:
    """The view asked for; unset means solidified."""
    return check.enum("finality", value, FINALITIES, unspecified=common_pb2.FINALITY_SOLIDIFIED) or 0


def transfer_order(request: usdt_pb2.TransferRequest, *, fee_limit_cap_sun: int) -> WriteOrder:
    check = FieldChecks()
    sender, recipient, amount = _transfer_fields(check, request)
    return _write_order(
        check, request, TRANSFER_METHOD, sender, recipient, amount, fee_limit_cap_sun,
        allow_unactivated_recipient=request.allow_unactivated_recipient,
    )


def estimate_request(request: usdt_pb2.EstimateTransferRequest) -> tuple[str, str, int]:
    """(sender, recipient, amount) of an EstimateTransfer request."""
    check = FieldChecks()
    sender, recipient, amount = _transfer_fields(check, request)
    check.done()
    assert sender is not None and recipient is not None and amount is not None
    return sender, recipient, amount


def _transfer_fields(
    check: FieldChecks, request: usdt_pb2.TransferRequest | usdt_pb2.EstimateTransferRequest
) -> tuple[str | None, str | None, int | None]:
    sender = check.address("from_address", request.from_address)
    recipient = check.address("to_address", request.to_address)
    if sender is not None and sender == recipient:
        check.fail("to_address", "must differ from from_address")
    return sender, recipient, check.amount("amount_base_units", request.amount_base_units)


def approve_order(request: usdt_pb2.ApproveRequest, *, fee_limit_cap_sun: int) -> WriteOrder:
    check = FieldChecks()
    owner = check.address("owner_address", request.owner_address)
    spender = check.address("spender_address", request.spender_address)
    if owner is not None and owner == spender:
        check.fail("spender_address", "must differ from owner_address")
    amount = check.amount("amount_base_units", request.amount_base_units, allow_zero=True)
    return _write_order(check, request, APPROVE_METHOD, owner, spender, amount, fee_limit_cap_sun)


def _write_order(
    check: FieldChecks,
    request: usdt_pb2.TransferRequest | usdt_pb2.ApproveRequest,
    method: str,
    owner: str | None,
    counterparty: str | None,
    amount: int | None,
    fee_limit_cap_sun: int,
    *,
    allow_unactivated_recipient: bool = False,
) -> WriteOrder:
    """The order, once the fields every write has are checked too (request_id, wallet_id, fee limit, reference)."""
    request_id = check.string("request_id", request.request_id, max_length=128)
    wallet_id = _wallet_id(check, request.wallet_id)
    fee_limit = _fee_limit(check, request.fee_limit_sun, fee_limit_cap_sun)
    reference = check.string("reference", request.reference, required=False, max_length=MAX_REFERENCE) or ""
    check.done()
    assert request_id and wallet_id and owner and counterparty and amount is not None and fee_limit is not None
    return WriteOrder(
        method=method,
        request_id=request_id,
        request_hash=request_digest(request),
        wallet_id=wallet_id,
        owner=owner,
        counterparty=counterparty,
        amount=amount,
        fee_limit_sun=fee_limit,
        reference=reference,
        allow_unactivated_recipient=allow_unactivated_recipient,
    )


def _wallet_id(check: FieldChecks, value: str) -> str | None:
    return check.pattern("wallet_id", value, _WALLET_ID, expected='a wallet id ("w_" and 24 hex digits)', max_length=26)


def _fee_limit(check: FieldChecks, value: int, cap: int) -> int | None:
    fee_limit = check.amount("fee_limit_sun", value, allow_zero=True)
    if fee_limit is not None and fee_limit > cap:
        check.fail("fee_limit_sun", f"must be at most FEE_LIMIT_CAP_SUN, {cap} SUN, got {fee_limit}")
        return None
    return fee_limit


def history_query(request: usdt_pb2.ListTransfersRequest) -> HistoryQuery:
    check = FieldChecks()
    address = check.address("address", request.address)
    direction = check.enum("direction", request.direction, DIRECTIONS, unspecified="") or None
    view = finality(check, request.finality)
    start = _time(check, request, "start_time")
    end = _time(check, request, "end_time")
    if start is not None and end is not None and end < start:
        check.fail("end_time", "must not be before start_time")
    size = check.page_size("page_size", request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE) or 0
    filters = _filters_digest(request)
    relay_token = ""
    if request.page_token:
        relay_token = _relay_token(check, request.page_token, filters)
    check.done()
    assert address is not None
    return HistoryQuery(
        address=address,
        direction=direction,
        only_confirmed=view != common_pb2.FINALITY_HEAD,
        start=start,
        end=end,
        page_size=size,
        relay_token=relay_token,
    )


def next_history_token(request: usdt_pb2.ListTransfersRequest, relay_token: str) -> str:
    """Our token of the next page: tron-relay's, bound to the filters it was read with."""
    if not relay_token:
        return ""
    body = json.dumps({"f": _filters_digest(request), "r": relay_token}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(body).decode()


def _relay_token(check: FieldChecks, token: str, filters: str) -> str:
    try:
        body = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        body = None
    if not (isinstance(body, dict) and isinstance(body.get("f"), str) and isinstance(body.get("r"), str)):
        check.fail("page_token", "is not a next_page_token of ListTransfers")
        return ""
    if body["f"] != filters:
        check.fail("page_token", "was given for other filters: keep every field but page_token unchanged")
        return ""
    return body["r"]


def _filters_digest(request: usdt_pb2.ListTransfersRequest) -> str:
    """What a page token is bound to: every field but page_size and page_token."""
    filters = usdt_pb2.ListTransfersRequest()
    filters.CopyFrom(request)
    filters.ClearField("page_token")
    filters.ClearField("page_size")
    return hashlib.sha256(filters.SerializeToString(deterministic=True)).hexdigest()[:16]


def _time(check: FieldChecks, request: Any, field: str) -> datetime | None:
    if not request.HasField(field):
        return None
    value = getattr(request, field)
    if value.seconds < 0 or not 0 <= value.nanos <= 999_999_999:
        check.fail(field, "must be a valid time after 1970")
        return None
    return value.ToDatetime(tzinfo=UTC)


# -- responses ----------------------------------------------------------------------------------------------------


def timestamp(at: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(at)
    return stamp


def milliseconds(ms: int) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromMilliseconds(ms)
    return stamp


def transfer_message(document: Mapping[str, Any]) -> usdt_pb2.UsdtTransfer:
    return usdt_pb2.UsdtTransfer(
        txid=document["_id"],
        request_id=document["request"]["request_id"],
        wallet_id=document["wallet_id"],
        from_address=document["from_address"],
        to_address=document["to_address"],
        amount_base_units=document["amount_base_units"],
        fee_limit_sun=document["fee_limit_sun"],
        state=NUMBERS_BY_STATE[document["state"]],
        expiration_time=milliseconds(document["expiration_ms"]),
        create_time=timestamp(document["created_at"]),
        block_number=document.get("block_number", 0),
        fee_sun=document.get("fee_sun", 0),
        energy_used=document.get("energy_used", 0),
        failure_reason=document.get("failure_reason", ""),
        bandwidth_used=document.get("bandwidth_used", 0),
        **_energy_fields(document.get("energy_plan")),
    )


def _energy_fields(plan: Mapping[str, Any] | None) -> dict[str, Any]:
    if plan is None:
        return {}
    return {
        "energy_source": SOURCE_NUMBERS[plan["source"]],
        "energy_plan_id": plan["plan_id"],
        "energy_plan_trx_burned_sun": plan["plan_trx_burned_sun"],
        "energy_delegated_sun": plan["delegated_sun"],
        "energy_plan_state": staking_pb2.EnergyPlanState.Value(f"ENERGY_PLAN_STATE_{plan['state']}"),
    }


def submitted_message(document: Mapping[str, Any]) -> common_pb2.SubmittedTransaction:
    return common_pb2.SubmittedTransaction(txid=document["_id"], expiration_time=milliseconds(document["expiration_ms"]))


def history_message(entry: HistoryEntry, sent: Mapping[str, Any] | None = None) -> usdt_pb2.HistoryTransfer:
    """One history entry; `sent` is this service's record of it when it sent it (what it cost)."""
    cost: dict[str, Any] = {}
    if sent is not None:
        cost = {key: sent.get(key, 0) for key in ("fee_sun", "energy_used", "bandwidth_used")}
        if sent.get("energy_plan") is not None:
            cost["energy_source"] = SOURCE_NUMBERS[sent["energy_plan"]["source"]]
    return usdt_pb2.HistoryTransfer(
        txid=entry.txid,
        from_address=entry.from_address,
        to_address=entry.to_address,
        amount_base_units=entry.amount_base_units,
        block_time=timestamp(entry.block_time),
        direction=NUMBERS_BY_DIRECTION[entry.direction],
        **cost,
    )


def estimate_message(estimate: Estimate) -> usdt_pb2.EstimateTransferResponse:
    return usdt_pb2.EstimateTransferResponse(
        energy_required=estimate.energy_required,
        bandwidth_required=estimate.bandwidth_required,
        recipient_holds_usdt=estimate.recipient_holds_usdt,
        recipient_activated=estimate.recipient_activated,
        energy_available=estimate.energy_available,
        bandwidth_available=estimate.bandwidth_available,
        burn_fee_sun=estimate.burn_fee_sun,
        suggested_fee_limit_sun=estimate.suggested_fee_limit_sun,
        fee_limit_cap_sun=estimate.fee_limit_cap_sun,
        estimated_by_node=estimate.estimated_by_node,
        warnings=list(estimate.warnings),
    )

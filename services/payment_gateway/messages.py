"""payment-gateway's proto side: the name of lucid.tron.v1.PaymentGatewayService, the checks of its requests (every
bad field named at once) and the mapping between its messages and the stored invoices and events.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2

from lucid.tron.v1 import common_pb2, events_pb2, payment_gateway_pb2 as pg
from lucid_tron.validation import FieldChecks

from . import events, states
from .invoices import NewInvoice

SERVICE_NAME: str = pg.DESCRIPTOR.services_by_name["PaymentGatewayService"].full_name

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_ORDER_ID = 128
MAX_DESCRIPTION = 256
MAX_REASON = 256
MAX_METADATA_ENTRIES = 20
MAX_METADATA_KEY = 40
MAX_METADATA_VALUE = 500
#: Above the whole supply of TRX (~10^17 SUN) and of USDT on TRON: an amount beyond it is a bug, not an order.
MAX_AMOUNT = 10**17
MAX_TOLERANCE_BPS = states.BPS
DEFAULT_TTL = timedelta(minutes=15)
MIN_TTL = timedelta(minutes=1)
MAX_TTL = timedelta(days=30)
DEFAULT_MONITORING_WINDOW = timedelta(hours=1)
MAX_MONITORING_WINDOW = timedelta(days=7)
#: Both TRX (SUN) and USDT-TRC20 have 6 decimals.
DECIMALS = 6
_INVOICE_ID = re.compile(r"inv_[0-9a-f]{24}")
_RUN_ID = re.compile(r"rec_[0-9a-f]{24}")

ASSETS_BY_NUMBER = {common_pb2.ASSET_TRX: "TRX", common_pb2.ASSET_USDT: "USDT"}
NUMBERS_BY_ASSET = {asset: number for number, asset in ASSETS_BY_NUMBER.items()}
STATUSES_BY_NUMBER = {
    pg.INVOICE_STATUS_PENDING: states.PENDING,
    pg.INVOICE_STATUS_SEEN: states.SEEN,
    pg.INVOICE_STATUS_CONFIRMING: states.CONFIRMING,
    pg.INVOICE_STATUS_PAID: states.PAID,
    pg.INVOICE_STATUS_EXPIRED: states.EXPIRED,
    pg.INVOICE_STATUS_INVALID: states.INVALID,
    pg.INVOICE_STATUS_CANCELLED: states.CANCELLED,
}
NUMBERS_BY_STATUS = {status: number for number, status in STATUSES_BY_NUMBER.items()}
NUMBERS_BY_EXCEPTION = {
    states.NONE: pg.INVOICE_EXCEPTION_NONE,
    states.PAID_PARTIAL: pg.INVOICE_EXCEPTION_PAID_PARTIAL,
    states.PAID_OVER: pg.INVOICE_EXCEPTION_PAID_OVER,
    states.PAID_LATE: pg.INVOICE_EXCEPTION_PAID_LATE,
    states.MARKED: pg.INVOICE_EXCEPTION_MARKED,
}
NUMBERS_BY_PAYMENT_STATE = {
    states.PAYMENT_SEEN: pg.PAYMENT_STATE_SEEN,
    states.PAYMENT_CREDITED: pg.PAYMENT_STATE_CREDITED,
    states.PAYMENT_REVERTED: pg.PAYMENT_STATE_REVERTED,
    states.PAYMENT_IGNORED: pg.PAYMENT_STATE_IGNORED,
}
MARKS_BY_NUMBER = {pg.INVOICE_MARK_PAID: states.PAID, pg.INVOICE_MARK_INVALID: states.INVALID}
NUMBERS_BY_EVENT_TYPE = {
    events.INVOICE_CREATED: events_pb2.EVENT_TYPE_INVOICE_CREATED,
    events.INVOICE_PAYMENT_SEEN: events_pb2.EVENT_TYPE_INVOICE_PAYMENT_SEEN,
    events.INVOICE_PAYMENT_REVERTED: events_pb2.EVENT_TYPE_INVOICE_PAYMENT_REVERTED,
    events.INVOICE_PAID: events_pb2.EVENT_TYPE_INVOICE_PAID,
    events.INVOICE_PAID_LATE: events_pb2.EVENT_TYPE_INVOICE_PAID_LATE,
    events.INVOICE_EXPIRED: events_pb2.EVENT_TYPE_INVOICE_EXPIRED,
    events.INVOICE_INVALID: events_pb2.EVENT_TYPE_INVOICE_INVALID,
    events.INVOICE_CANCELLED: events_pb2.EVENT_TYPE_INVOICE_CANCELLED,
}


# -- requests -----------------------------------------------------------------------------------------------------


def new_invoice(check: FieldChecks, request: pg.CreateInvoiceRequest, now: datetime) -> NewInvoice | None:
    """The invoice a CreateInvoice request asks for; None when a field is bad (each recorded in `check`)."""
    check.string("request_id", request.request_id, max_length=128)
    asset = check.enum("asset", request.asset, ASSETS_BY_NUMBER)
    amount = check.amount("amount_base_units", request.amount_base_units)
    if amount is not None and amount > MAX_AMOUNT:
        check.fail("amount_base_units", f"must be at most {MAX_AMOUNT} (more than the asset's whole supply)")
        amount = None
    expire_at = _expiry(check, request, now)
    tolerance = request.tolerance_bps
    if not 0 <= tolerance <= MAX_TOLERANCE_BPS:
        check.fail("tolerance_bps", f"must be between 0 and {MAX_TOLERANCE_BPS} basis points, got {tolerance}")
    window_s = DEFAULT_MONITORING_WINDOW.total_seconds()
    if request.HasField("monitoring_window"):
        window = request.monitoring_window
        window_s = check.duration(
            "monitoring_window", window.seconds, window.nanos, maximum_s=MAX_MONITORING_WINDOW.total_seconds()
        )
    order_id = check.string("order_id", request.order_id, required=False, max_length=MAX_ORDER_ID) or ""
    description = check.string("description", request.description, required=False, max_length=MAX_DESCRIPTION)
    _metadata(check, request.metadata)
    if check.violations or asset is None or amount is None or expire_at is None or window_s is None:
        return None
    return NewInvoice(
        asset=asset,
        amount=amount,
        expire_at=expire_at,
        monitoring_window_s=int(window_s),
        tolerance_bps=tolerance,
        order_id=order_id,
        metadata=dict(request.metadata),
        description=description or "",
    )


def _expiry(check: FieldChecks, request: pg.CreateInvoiceRequest, now: datetime) -> datetime | None:
    which = request.WhichOneof("expiration")
    if which is None:
        return now + DEFAULT_TTL
    if which == "ttl":
        seconds = check.duration("ttl", request.ttl.seconds, request.ttl.nanos)
        if seconds is None:
            return None
        expire_at = now + timedelta(seconds=seconds)
    else:
        expire_at = _at(request.expire_time)
    if expire_at < now + MIN_TTL:
        check.fail(which, f"must be at least {MIN_TTL} from now (an expiry in the past cannot be paid)")
        return None
    if expire_at > now + MAX_TTL:
        check.fail(which, f"must be at most {MAX_TTL.days} days from now")
        return None
    return expire_at.replace(microsecond=expire_at.microsecond // 1000 * 1000)


def _metadata(check: FieldChecks, metadata: Mapping[str, str]) -> None:
    if len(metadata) > MAX_METADATA_ENTRIES:
        check.fail("metadata", f"at most {MAX_METADATA_ENTRIES} entries, got {len(metadata)}")
        return
    for key, value in metadata.items():
        if not key or len(key) > MAX_METADATA_KEY or key.startswith("$") or "." in key:
            check.fail("metadata", f"keys are 1 to {MAX_METADATA_KEY} characters, without '.' or a leading '$'")
            return
        if len(value) > MAX_METADATA_VALUE:
            check.fail(f"metadata[{key}]", f"must be at most {MAX_METADATA_VALUE} characters, got {len(value)}")
            return


def invoice_id(check: FieldChecks, value: str, field: str = "invoice_id") -> str | None:
    return check.pattern(field, value, _INVOICE_ID, expected='an invoice id ("inv_" and 24 hex digits)')


def list_query(check: FieldChecks, request: pg.ListInvoicesRequest) -> dict[str, Any]:
    """The MongoDB filter of a ListInvoices request."""
    query: dict[str, Any] = {}
    statuses = [check.enum("statuses", number, STATUSES_BY_NUMBER) for number in request.statuses]
    if statuses:
        query["status"] = {"$in": statuses}
    if request.order_id:
        query["order_id"] = check.string("order_id", request.order_id, max_length=MAX_ORDER_ID)
    asset = check.enum("asset", request.asset, ASSETS_BY_NUMBER, unspecified="")
    if asset:
        query["asset"] = asset
    created: dict[str, datetime] = {}
    if request.HasField("create_time_from"):
        created["$gte"] = _at(request.create_time_from)
    if request.HasField("create_time_to"):
        created["$lt"] = _at(request.create_time_to)
    if created:
        query["created_at"] = created
    return query


def page_token(check: FieldChecks, value: str) -> str | None:
    return invoice_id(check, value, "page_token") if value else None


def run_page_token(check: FieldChecks, value: str) -> str | None:
    if not value:
        return None
    return check.pattern("page_token", value, _RUN_ID, expected="a next_page_token of ListReconciliationRuns")


def sequence_token(check: FieldChecks, value: str) -> int:
    if not value:
        return 0
    if not value.isdigit() or len(value) > 18:
        check.fail("page_token", "must be a next_page_token of ListInvoiceEvents")
        return 0
    return int(value)


# -- responses ----------------------------------------------------------------------------------------------------


def timestamp(at: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(at)
    return stamp


def decimal_amount(base_units: int) -> str:
    """Base units as whole tokens with all 6 decimals, e.g. 12500000 -> "12.500000"."""
    whole, fraction = divmod(base_units, 10**DECIMALS)
    return f"{whole}.{fraction:0{DECIMALS}d}"


def invoice_message(invoice: Mapping[str, Any]) -> pg.Invoice:
    return pg.Invoice(
        invoice_id=invoice["_id"],
        status=NUMBERS_BY_STATUS[invoice["status"]],
        exception=NUMBERS_BY_EXCEPTION[invoice["exception"]],
        asset=NUMBERS_BY_ASSET[invoice["asset"]],
        amount_base_units=invoice["amount"],
        total_decimal=decimal_amount(invoice["amount"]),
        token=invoice["asset"],
        token_contract=invoice["token_contract"],
        network=invoice["network"],
        deposit_address=invoice["deposit_address"],
        expire_time=timestamp(invoice["expire_at"]),
        monitoring_window=duration_pb2.Duration(seconds=invoice["monitoring_window_s"]),
        tolerance_bps=invoice["tolerance_bps"],
        order_id=invoice["order_id"],
        metadata=invoice["metadata"],
        description=invoice["description"],
        paid_amount_base_units=invoice["paid"],
        pending_amount_base_units=invoice["pending"],
        payments=[
            pg.InvoicePayment(
                txid=payment["txid"],
                log_index=payment["log_index"],
                from_address=payment["from_address"],
                amount_base_units=payment["amount"],
                block_number=payment["block_number"],
                block_time=timestamp(payment["block_time"]),
                state=NUMBERS_BY_PAYMENT_STATE[payment["state"]],
                after_expiration=payment["after_expiration"],
            )
            for payment in invoice["payments"]
        ],
        sequence=invoice["sequence"],
        etag=invoice["etag"],
        create_time=timestamp(invoice["created_at"]),
        update_time=timestamp(invoice["updated_at"]),
    )


def event_message(event: Mapping[str, Any]) -> events_pb2.Event:
    data = struct_pb2.Struct()
    # Struct numbers are doubles: amounts travel as decimal strings so they stay exact.
    data.update({key: str(value) if isinstance(value, int) else value for key, value in event["data"].items()})
    return events_pb2.Event(
        event_id=event["_id"],
        type=NUMBERS_BY_EVENT_TYPE[event["type"]],
        subject=events.subject(event["invoice_id"]),
        sequence=event["sequence"],
        reason=event["reason"],
        time=timestamp(event["time"]),
        data=data,
    )


def run_message(run: Mapping[str, Any]) -> pg.ReconciliationRun:
    trigger = f"{run['trigger']}:{run['principal']}" if run["principal"] else run["trigger"]
    message = pg.ReconciliationRun(
        run_id=run["_id"],
        trigger=trigger,
        start_time=timestamp(run["started_at"]),
        invoices_checked=run["invoices_checked"],
        invoices_deferred=run.get("invoices_deferred", 0),  # absent from runs recorded before it was counted
        fixes=[
            pg.ReconciliationFix(
                invoice_id=fix["invoice_id"],
                txid=fix["txid"],
                log_index=fix["log_index"],
                action=pg.ReconciliationAction.Value(f"RECONCILIATION_ACTION_{fix['action']}"),
                amount_base_units=fix["amount"],
            )
            for fix in run["fixes"]
        ],
        error=run["error"],
    )
    if run["ended_at"] is not None:
        message.end_time.CopyFrom(timestamp(run["ended_at"]))
    return message


def _at(stamp: timestamp_pb2.Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)

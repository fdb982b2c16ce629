"""The rules of an invoice's life: which change is allowed from which status, and what it leads to.

Pure functions over the stored invoice document (see `store`): each returns a `Transition` (the fields that change
and the event that announces the change) or raises `lucid_tron.errors`; `invoices` commits the transition and its
event together. The chain watcher calls `see_payment`, `credit_payment` and `revert_payment`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lucid_tron.errors import FailedPrecondition

from . import events

PENDING = "PENDING"
SEEN = "SEEN"
CONFIRMING = "CONFIRMING"
PAID = "PAID"
EXPIRED = "EXPIRED"
INVALID = "INVALID"
CANCELLED = "CANCELLED"
#: No payment can change these (a payment then is IGNORED, for an operator).
CLOSED = frozenset({PAID, INVALID, CANCELLED})

NONE = "NONE"
PAID_PARTIAL = "PAID_PARTIAL"
PAID_OVER = "PAID_OVER"
PAID_LATE = "PAID_LATE"
MARKED = "MARKED"

PAYMENT_SEEN = "SEEN"
PAYMENT_CREDITED = "CREDITED"
PAYMENT_REVERTED = "REVERTED"
PAYMENT_IGNORED = "IGNORED"

BPS = 10_000

Invoice = Mapping[str, Any]


@dataclass(frozen=True)
class Transition:
    """What changes (`changes`, top-level fields of the invoice) and the event that says so."""

    changes: Mapping[str, Any]
    event_type: str
    reason: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Payment:
    """A transfer into an invoice's deposit address, as the chain watcher reads it."""

    txid: str
    log_index: int
    from_address: str
    amount: int
    block_number: int
    block_time: datetime


def cancel(invoice: Invoice, reason: str) -> Transition | None:
    """PENDING -> CANCELLED; None (nothing to do) when already cancelled."""
    if invoice["status"] == CANCELLED:
        return None
    if invoice["status"] != PENDING or invoice["payments"]:
        raise _refused(invoice, "only a PENDING invoice with no payment can be cancelled")
    return Transition({"status": CANCELLED}, events.INVOICE_CANCELLED, reason or "cancelled")


def mark(invoice: Invoice, status: str, reason: str) -> Transition:
    """An operator's verdict: PAID or INVALID by hand, exception MARKED, from any status but CANCELLED and itself."""
    if invoice["status"] == CANCELLED:
        raise _refused(invoice, "a cancelled invoice cannot be marked")
    if invoice["status"] == status:
        raise _refused(invoice, f"the invoice is already {status}")
    event_type = events.INVOICE_PAID if status == PAID else events.INVOICE_INVALID
    return Transition({"status": status, "exception": MARKED}, event_type, reason)


def expire(invoice: Invoice, now: datetime) -> Transition | None:
    """PENDING past its expiry -> EXPIRED (keeping PAID_PARTIAL if part was credited); None when not due."""
    if invoice["status"] != PENDING or invoice["expire_at"] > now:
        return None
    return Transition({"status": EXPIRED}, events.INVOICE_EXPIRED, f"expired at {invoice['expire_at'].isoformat()}")


def see_payment(invoice: Invoice, payment: Payment) -> Transition | None:
    """A payment in a block not solidified yet: recorded SEEN (IGNORED when the invoice is closed or the window is
    over); the invoice becomes SEEN, or CONFIRMING once what was seen reaches the amount. None when already known;
    a REVERTED payment seen again (the transaction landed at another height) is seen afresh at its new block."""
    known = _find(invoice, payment.txid, payment.log_index)
    if known is not None and invoice["payments"][known]["state"] != PAYMENT_REVERTED:
        return None
    after_expiration = payment.block_time >= invoice["expire_at"]
    ignored = invoice["status"] in CLOSED or payment.block_time >= _window_end(invoice)
    record = {
        "txid": payment.txid,
        "log_index": payment.log_index,
        "from_address": payment.from_address,
        "amount": payment.amount,
        "block_number": payment.block_number,
        "block_time": payment.block_time,
        "state": PAYMENT_IGNORED if ignored else PAYMENT_SEEN,
        "after_expiration": after_expiration,
    }
    payments = [dict(existing) for existing in invoice["payments"]]
    if known is None:
        payments.append(record)
    else:
        payments[known] = record
    changes: dict[str, Any] = {"payments": payments}
    if not ignored:
        changes["pending"] = invoice["pending"] + payment.amount
        if invoice["status"] in (PENDING, SEEN, CONFIRMING, EXPIRED):
            due = invoice["paid"] + changes["pending"] >= minimum_due(invoice)
            changes["status"] = CONFIRMING if due else SEEN
    return Transition(changes, events.INVOICE_PAYMENT_SEEN, f"payment {payment.txid}:{payment.log_index} seen",
                      {"txid": payment.txid, "log_index": payment.log_index, "amount": payment.amount})


def credit_payment(invoice: Invoice, txid: str, log_index: int) -> Transition | None:
    """A SEEN payment whose block solidified counts: PAID once credited payments reach the amount less the
    tolerance (PAID_OVER above the amount, PAID_LATE when the last one came after expiry), PAID_PARTIAL before."""
    index = _find(invoice, txid, log_index)
    if index is None:
        raise FailedPrecondition(f"payment {txid}:{log_index} was never seen", subject=invoice["_id"])
    payment = invoice["payments"][index]
    if payment["state"] != PAYMENT_SEEN:
        return None
    payments = _with_state(invoice, index, PAYMENT_CREDITED)
    paid = invoice["paid"] + payment["amount"]
    pending = invoice["pending"] - payment["amount"]
    changes: dict[str, Any] = {"payments": payments, "paid": paid, "pending": pending}
    if invoice["status"] in CLOSED:
        return Transition(changes, events.INVOICE_PAYMENT_SEEN, f"payment {txid}:{log_index} credited")
    if paid >= minimum_due(invoice):
        late = payment["after_expiration"]
        changes["status"] = PAID
        changes["exception"] = PAID_OVER if paid > invoice["amount"] else PAID_LATE if late else NONE
        event_type = events.INVOICE_PAID_LATE if late else events.INVOICE_PAID
        return Transition(changes, event_type, f"paid {paid} of {invoice['amount']} by {txid}:{log_index}")
    changes["exception"] = PAID_PARTIAL
    if pending == 0 and invoice["status"] != EXPIRED:
        changes["status"] = PENDING
    return Transition(changes, events.INVOICE_PAYMENT_SEEN, f"partial payment {txid}:{log_index} credited",
                      {"txid": txid, "log_index": log_index, "amount": payment["amount"]})


def revert_payment(invoice: Invoice, txid: str, log_index: int, now: datetime) -> Transition | None:
    """A SEEN payment whose block left the chain: REVERTED, no longer pending; the status falls back to what the
    remaining payments justify (PENDING when nothing else is seen, EXPIRED when past expiry)."""
    index = _find(invoice, txid, log_index)
    if index is None or invoice["payments"][index]["state"] != PAYMENT_SEEN:
        return None
    amount = invoice["payments"][index]["amount"]
    pending = invoice["pending"] - amount
    changes: dict[str, Any] = {"payments": _with_state(invoice, index, PAYMENT_REVERTED), "pending": pending}
    if invoice["status"] in (SEEN, CONFIRMING):
        if pending > 0:
            changes["status"] = CONFIRMING if invoice["paid"] + pending >= minimum_due(invoice) else SEEN
        else:
            changes["status"] = EXPIRED if invoice["expire_at"] <= now else PENDING
    return Transition(changes, events.INVOICE_PAYMENT_REVERTED, f"payment {txid}:{log_index} left the chain",
                      {"txid": txid, "log_index": log_index, "amount": amount})


def is_dust(invoice: Invoice, amount: int, dust_base_units: int) -> bool:
    """Whether a transfer is too small to be a payment: below `dust_base_units` (PAYMENT_DUST_BASE_UNITS), or below
    the invoice's minimum due when that is smaller, so an invoice for less than the threshold can still be paid.
    Zero-value and dust transfers are how address poisoning shows up: crediting them would turn an attacker's
    0.000001 USDT into PAID_PARTIAL or PAID_OVER. The chain watcher and reconciliation judge by this one rule."""
    return amount < min(dust_base_units, max(1, minimum_due(invoice)))


def minimum_due(invoice: Invoice) -> int:
    """The least that settles the invoice: the amount less `tolerance_bps` of it, rounded in the merchant's favour."""
    amount: int = invoice["amount"]
    return amount - amount * invoice["tolerance_bps"] // BPS


def _window_end(invoice: Invoice) -> datetime:
    return invoice["expire_at"] + timedelta(seconds=invoice["monitoring_window_s"])


def _find(invoice: Invoice, txid: str, log_index: int) -> int | None:
    for index, payment in enumerate(invoice["payments"]):
        if payment["txid"] == txid and payment["log_index"] == log_index:
            return index
    return None


def _with_state(invoice: Invoice, index: int, state: str) -> list[dict[str, Any]]:
    payments = [dict(payment) for payment in invoice["payments"]]
    payments[index]["state"] = state
    return payments


def _refused(invoice: Invoice, message: str) -> FailedPrecondition:
    return FailedPrecondition(f"{message}; the invoice is {invoice['status']}", reason="INVOICE_STATUS",
                              subject=invoice["_id"])

"""The transition rules of states.py, which the chain watcher calls: seen, credited (within tolerance, over, late),
reverted, expired, cancelled, marked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lucid_tron.errors import FailedPrecondition
from lucid_tron.services.payment_gateway import events, states

EXPIRY = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
BEFORE = EXPIRY - timedelta(minutes=5)
AFTER = EXPIRY + timedelta(minutes=5)


def invoice(**changes: Any) -> dict[str, Any]:
    return {
        "_id": "inv_" + "a" * 24, "status": states.PENDING, "exception": states.NONE, "amount": 1_000_000,
        "tolerance_bps": 0, "expire_at": EXPIRY, "monitoring_window_s": 3600, "paid": 0, "pending": 0,
        "payments": [], **changes,
    }


def payment(amount: int = 1_000_000, *, txid: str = "ab" * 32, at: datetime = BEFORE) -> states.Payment:
    return states.Payment(txid, 0, "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8", amount, 100, at)


def applied(before: dict[str, Any], transition: states.Transition | None) -> dict[str, Any]:
    assert transition is not None
    return {**before, **transition.changes}


def test_a_full_payment_seen_makes_the_invoice_confirming() -> None:
    transition = states.see_payment(invoice(), payment())

    assert transition is not None and transition.event_type == events.INVOICE_PAYMENT_SEEN
    assert (transition.changes["status"], transition.changes["pending"]) == (states.CONFIRMING, 1_000_000)


def test_a_partial_payment_seen_makes_the_invoice_seen() -> None:
    assert applied(invoice(), states.see_payment(invoice(), payment(400_000)))["status"] == states.SEEN


def test_the_same_payment_seen_twice_is_recorded_once() -> None:
    seen = applied(invoice(), states.see_payment(invoice(), payment()))

    assert states.see_payment(seen, payment()) is None


def test_an_exact_payment_credited_pays_the_invoice() -> None:
    seen = applied(invoice(), states.see_payment(invoice(), payment()))
    transition = states.credit_payment(seen, "ab" * 32, 0)
    paid = applied(seen, transition)

    assert transition is not None and transition.event_type == events.INVOICE_PAID
    assert (paid["status"], paid["exception"]) == (states.PAID, states.NONE)
    assert (paid["paid"], paid["pending"]) == (1_000_000, 0)
    assert paid["payments"][0]["state"] == states.PAYMENT_CREDITED


def test_a_payment_within_the_tolerance_pays_the_invoice() -> None:
    open_ = invoice(tolerance_bps=100)
    seen = applied(open_, states.see_payment(open_, payment(990_000)))

    assert applied(seen, states.credit_payment(seen, "ab" * 32, 0))["status"] == states.PAID


def test_a_payment_just_below_the_tolerance_is_partial() -> None:
    open_ = invoice(tolerance_bps=100)
    seen = applied(open_, states.see_payment(open_, payment(989_999)))
    credited = applied(seen, states.credit_payment(seen, "ab" * 32, 0))

    assert (credited["status"], credited["exception"]) == (states.PENDING, states.PAID_PARTIAL)


def test_an_overpayment_is_paid_over() -> None:
    seen = applied(invoice(), states.see_payment(invoice(), payment(1_500_000)))

    assert applied(seen, states.credit_payment(seen, "ab" * 32, 0))["exception"] == states.PAID_OVER


def test_two_payments_together_pay_the_invoice() -> None:
    first = applied(invoice(), states.see_payment(invoice(), payment(600_000, txid="01" * 32)))
    first = applied(first, states.credit_payment(first, "01" * 32, 0))
    second = applied(first, states.see_payment(first, payment(400_000, txid="02" * 32)))
    paid = applied(second, states.credit_payment(second, "02" * 32, 0))

    assert (paid["status"], paid["paid"]) == (states.PAID, 1_000_000)


def test_a_payment_after_expiry_in_the_window_is_paid_late() -> None:
    expired = invoice(status=states.EXPIRED)
    seen = applied(expired, states.see_payment(expired, payment(at=AFTER)))
    transition = states.credit_payment(seen, "ab" * 32, 0)

    assert seen["payments"][0]["after_expiration"] is True
    assert transition is not None and transition.event_type == events.INVOICE_PAID_LATE
    assert applied(seen, transition)["exception"] == states.PAID_LATE


def test_a_payment_in_a_block_before_expiry_is_on_time_however_late_it_is_learned() -> None:
    expired = invoice(status=states.EXPIRED)
    seen = applied(expired, states.see_payment(expired, payment(at=BEFORE)))
    transition = states.credit_payment(seen, "ab" * 32, 0)

    assert transition is not None and transition.event_type == events.INVOICE_PAID
    assert applied(seen, transition)["exception"] == states.NONE


def test_a_payment_after_the_monitoring_window_is_ignored() -> None:
    expired = invoice(status=states.EXPIRED)
    seen = applied(expired, states.see_payment(expired, payment(at=EXPIRY + timedelta(hours=2))))

    assert seen["payments"][0]["state"] == states.PAYMENT_IGNORED and seen["status"] == states.EXPIRED


def test_a_payment_to_a_cancelled_invoice_is_ignored() -> None:
    cancelled = invoice(status=states.CANCELLED)

    seen = applied(cancelled, states.see_payment(cancelled, payment()))

    assert seen["payments"][0]["state"] == states.PAYMENT_IGNORED


def test_a_reverted_payment_returns_the_invoice_to_pending() -> None:
    seen = applied(invoice(), states.see_payment(invoice(), payment()))
    transition = states.revert_payment(seen, "ab" * 32, 0, BEFORE)
    reverted = applied(seen, transition)

    assert transition is not None and transition.event_type == events.INVOICE_PAYMENT_REVERTED
    assert (reverted["status"], reverted["pending"]) == (states.PENDING, 0)
    assert reverted["payments"][0]["state"] == states.PAYMENT_REVERTED


def test_a_payment_reverted_after_expiry_leaves_the_invoice_expired() -> None:
    seen = applied(invoice(), states.see_payment(invoice(), payment()))

    assert applied(seen, states.revert_payment(seen, "ab" * 32, 0, AFTER))["status"] == states.EXPIRED


def test_a_reverted_payment_seen_again_at_another_height_is_credited_once() -> None:
    seen = applied(invoice(), states.see_payment(invoice(), payment()))
    reverted = applied(seen, states.revert_payment(seen, "ab" * 32, 0, BEFORE))
    landed = states.Payment("ab" * 32, 0, "T" * 34, 1_000_000, 107, BEFORE)
    again = applied(reverted, states.see_payment(reverted, landed))
    paid = applied(again, states.credit_payment(again, "ab" * 32, 0))

    assert len(paid["payments"]) == 1 and paid["payments"][0]["block_number"] == 107
    assert (paid["status"], paid["paid"]) == (states.PAID, 1_000_000)


def test_crediting_a_payment_never_seen_is_refused() -> None:
    with pytest.raises(FailedPrecondition):
        states.credit_payment(invoice(), "ab" * 32, 0)


def test_a_pending_invoice_expires_only_once_due() -> None:
    assert states.expire(invoice(), BEFORE) is None
    transition = states.expire(invoice(), EXPIRY)

    assert transition is not None and transition.changes == {"status": states.EXPIRED}
    assert transition.event_type == events.INVOICE_EXPIRED


def test_a_seen_invoice_does_not_expire() -> None:
    assert states.expire(invoice(status=states.SEEN), AFTER) is None


def test_only_a_pending_invoice_without_payments_can_be_cancelled() -> None:
    assert states.cancel(invoice(), "") is not None
    assert states.cancel(invoice(status=states.CANCELLED), "") is None
    with pytest.raises(FailedPrecondition):
        states.cancel(invoice(status=states.SEEN), "")


def test_a_mark_sets_the_status_and_the_marked_exception() -> None:
    transition = states.mark(invoice(), states.INVALID, "fraud")

    assert transition.changes == {"status": states.INVALID, "exception": states.MARKED}
    assert (transition.event_type, transition.reason) == (events.INVOICE_INVALID, "fraud")


def test_a_cancelled_invoice_cannot_be_marked() -> None:
    with pytest.raises(FailedPrecondition):
        states.mark(invoice(status=states.CANCELLED), states.PAID, "late")

"""Payout events: their kinds and what they carry. Each is emitted through the store's transactional outbox in the
transaction of the change it announces (`store.apply`), numbered per payout without gaps, and sent from there as a
webhook (lucid_tron.webhooks: its event id is the webhook-id, the same for every attempt)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bson import ObjectId

from lucid_tron.storage import utc_now
from lucid_tron.webhooks import event_payload

PAYOUT_CREATED = "payout.created"
PAYOUT_APPROVED = "payout.approved"
PAYOUT_REJECTED = "payout.rejected"
PAYOUT_HELD = "payout.held"
PAYOUT_BROADCAST = "payout.broadcast"
PAYOUT_CONFIRMED = "payout.confirmed"
PAYOUT_FAILED = "payout.failed"
PAYOUT_CANCELLED = "payout.cancelled"


def subject(payout_id: str) -> str:
    return f"payout/{payout_id}"


def payload(payout: Mapping[str, Any], reason: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """What an event carries: a new event id, the time, and the payout's state after the change (amounts as
    strings: JSON has no int64)."""
    return event_payload(f"evt_{ObjectId()}", utc_now(), {
        "payout_id": payout["_id"],
        "state": payout["state"],
        "asset": payout["asset"],
        "amount_base_units": str(payout["amount"]),
        "recipient": payout["recipient"],
        "reference": payout["reference"],
        "reason": reason,
        "batch_id": payout["batch_id"],
        **data,
    })

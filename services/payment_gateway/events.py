"""Invoice events: their types, their stored form, and the Redis channels they are announced on.

An event is written in the same MongoDB transaction as the change it announces (`store.apply`), numbered 1, 2, 3...
per invoice without gaps; it is published on Redis after the commit. Redis is the fast path only: a subscriber that
misses a message (Redis down, a reconnect) catches up from MongoDB by sequence, as WatchInvoice does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.asyncio import Redis

INVOICE_CREATED = "invoice.created"
INVOICE_PAYMENT_SEEN = "invoice.payment_seen"
INVOICE_PAYMENT_REVERTED = "invoice.payment_reverted"
INVOICE_PAID = "invoice.paid"
INVOICE_PAID_LATE = "invoice.paid_late"
INVOICE_EXPIRED = "invoice.expired"
INVOICE_INVALID = "invoice.invalid"
INVOICE_CANCELLED = "invoice.cancelled"

#: Every invoice event, for other services (a message is the event as JSON).
ALL_INVOICES_CHANNEL = "lucid-tron:events:invoice"

_log = logging.getLogger("lucid_tron.services.payment_gateway.events")


def subject(invoice_id: str) -> str:
    return f"invoice/{invoice_id}"


def invoice_channel(invoice_id: str) -> str:
    """The channel of one invoice's events: what a WatchInvoice stream listens to."""
    return f"{ALL_INVOICES_CHANNEL}:{invoice_id}"


def snapshot(invoice: Mapping[str, Any]) -> dict[str, Any]:
    """The invoice's state that an event carries as its data."""
    return {
        "invoice_id": invoice["_id"],
        "status": invoice["status"],
        "exception": invoice["exception"],
        "asset": invoice["asset"],
        "amount_base_units": str(invoice["amount"]),
        "paid_amount_base_units": str(invoice["paid"]),
        "pending_amount_base_units": str(invoice["pending"]),
        "order_id": invoice["order_id"],
    }


def document(
    invoice_id: str, sequence: int, event_type: str, reason: str, time: datetime, data: Mapping[str, Any]
) -> dict[str, Any]:
    """The stored event; its `_id` is the event id, unique like (invoice_id, sequence)."""
    return {
        "_id": f"evt_{invoice_id.removeprefix('inv_')}_{sequence}",
        "invoice_id": invoice_id,
        "sequence": sequence,
        "type": event_type,
        "reason": reason,
        "time": time,
        "data": dict(data),
    }


async def publish(redis: Redis, event: Mapping[str, Any]) -> None:
    """Announce a committed event; never raises: the event is in MongoDB whatever Redis does."""
    message = json.dumps({**event, "time": event["time"].isoformat()}, sort_keys=True)
    try:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.publish(invoice_channel(event["invoice_id"]), message)
            pipe.publish(ALL_INVOICES_CHANNEL, message)
            await pipe.execute()
    except Exception:
        _log.warning("could not publish event %s on Redis; subscribers catch up from MongoDB", event["_id"],
                     exc_info=True)

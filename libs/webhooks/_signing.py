"""Standard Webhooks signatures (https://www.standardwebhooks.com), made by the spec's reference library: the
secret, the signed message's headers, and its body."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook

__all__ = ["SECRET_PREFIX", "message_body", "new_secret", "signed_headers"]

SECRET_PREFIX = "whsec_"
_SECRET_BYTES = 32


def new_secret() -> str:
    """A new endpoint secret: "whsec_" + base64 of 32 random bytes, as the spec's libraries read it."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def message_body(event_type: str, time: datetime, data: Mapping[str, Any]) -> str:
    """The JSON body the spec describes: {"type", "timestamp", "data"}; fixed once per event, so every attempt and
    every endpoint gets (and signs) the same bytes."""
    stamp = time.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps({"type": event_type, "timestamp": stamp, "data": dict(data)}, sort_keys=True, default=str)


def signed_headers(event_id: str, body: str, signing_secrets: Iterable[str], at: datetime) -> dict[str, str]:
    """The headers of one attempt sent at `at`: webhook-id (the event id, the receiver's deduplication key),
    webhook-timestamp (this attempt's, in seconds) and webhook-signature with one "v1,<base64>" entry per secret,
    space-separated (the current secret first; during a rotation's overlap the previous one too)."""
    signatures = " ".join(Webhook(secret).sign(event_id, at, body) for secret in signing_secrets)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
    }

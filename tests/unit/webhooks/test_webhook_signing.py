"""Standard Webhooks messages as lucid_tron.webhooks makes them, checked by the spec's reference library."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from lucid_tron.webhooks import message_body, new_secret, signed_headers
from lucid_tron.webhooks._webhooks import signing_secrets


def test_a_secret_is_whsec_and_32_random_bytes_in_base64() -> None:
    secret = new_secret()

    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret


def test_the_body_has_type_timestamp_and_data() -> None:
    at = datetime(2026, 12, 7, 1, 2, 3, 456000, tzinfo=UTC)

    body = json.loads(message_body("invoice.paid", at, {"invoice_id": "inv_1"}))

    assert body == {"type": "invoice.paid", "timestamp": "2026-12-07T01:02:03.456Z", "data": {"invoice_id": "inv_1"}}


def test_headers_verify_with_each_signing_secret_and_not_with_another() -> None:
    old, new = new_secret(), new_secret()
    now = datetime.now(UTC)
    body = message_body("invoice.created", now, {})

    headers = signed_headers("evt_1", body, [new, old], now)

    assert headers["webhook-id"] == "evt_1" and headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert [entry.split(",")[0] for entry in headers["webhook-signature"].split(" ")] == ["v1", "v1"]
    Webhook(new).verify(body, headers)
    Webhook(old).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)


def test_the_previous_secret_signs_only_until_its_overlap_ends() -> None:
    now = datetime.now(UTC)
    endpoint = {"secret": "whsec_new", "previous_secret": "whsec_old", "previous_secret_expire_at": now}

    assert signing_secrets(endpoint, now - timedelta(seconds=1)) == ["whsec_new", "whsec_old"]
    assert signing_secrets(endpoint, now) == ["whsec_new"]
    assert signing_secrets({**endpoint, "previous_secret": None}, now - timedelta(days=1)) == ["whsec_new"]

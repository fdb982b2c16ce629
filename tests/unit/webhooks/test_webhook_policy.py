"""Delivery policy and the names of event types: backoff with full jitter, and one name per proto event type that
matches what the services emit."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fixtures.imports import modules_after_importing
from lucid.tron.v1 import events_pb2
from lucid_tron.config import ConfigError
from lucid_tron.services.payment_gateway import events as invoice_events
from lucid_tron.services.payment_gateway import messages as invoice_messages
from lucid_tron.services.payout_router import events as payout_events
from lucid_tron.webhooks import WebhookSettings, backoff_s
from lucid_tron.webhooks._messages import EVENT_TYPES_BY_NUMBER


def test_backoff_is_drawn_between_zero_and_the_exponential_ceiling() -> None:
    settings = WebhookSettings(webhook_backoff_base_s=2.0, webhook_backoff_max_s=100.0)

    for failed, ceiling in [(1, 2.0), (2, 4.0), (4, 16.0), (7, 100.0), (30, 100.0)]:
        delays = [backoff_s(settings, failed) for _ in range(200)]
        assert all(0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling / 2  # jittered over the whole range, not pinned to its bottom


def test_no_backoff_settings_mean_immediate_retries() -> None:
    assert backoff_s(replace(WebhookSettings(), webhook_backoff_base_s=0.0), 5) == 0.0


def test_delivery_settings_are_bounded() -> None:
    with pytest.raises(ConfigError) as refused:
        WebhookSettings(webhook_max_attempts=0, webhook_attempt_timeout_s=0)

    assert {problem.variable for problem in refused.value.problems} == {
        "WEBHOOK_MAX_ATTEMPTS", "WEBHOOK_ATTEMPT_TIMEOUT_S"
    }


def test_every_event_type_has_the_name_payment_gateway_or_payout_router_emits() -> None:
    emitted = {invoice_events.__dict__[name] for name in dir(invoice_events) if name.startswith("INVOICE_")}
    emitted |= {payout_events.__dict__[name] for name in dir(payout_events) if name.startswith("PAYOUT_")}

    assert set(EVENT_TYPES_BY_NUMBER.values()) == emitted
    invoice_numbers = {name: number for number, name in EVENT_TYPES_BY_NUMBER.items() if name.startswith("invoice.")}
    assert invoice_numbers == dict(invoice_messages.NUMBERS_BY_EVENT_TYPE)
    assert EVENT_TYPES_BY_NUMBER[events_pb2.EVENT_TYPE_INVOICE_PAYMENT_SEEN] == "invoice.payment_seen"


def test_the_package_face_loads_neither_grpc_nor_pymongo_nor_aiohttp() -> None:
    loaded = modules_after_importing("lucid_tron.webhooks")

    assert {"grpc", "pymongo", "aiohttp", "standardwebhooks"}.isdisjoint(loaded)

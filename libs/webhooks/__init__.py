"""Webhooks per the Standard Webhooks spec, for every service that announces events (payment-gateway now,
payout-router next): endpoints as resources, delivery from the service's transactional outbox, the gRPC API.

In the hosting service (its store a MoneyJobStore that declares `WebhookStore.INDEXES` among its indexes, its
settings include WebhookSettings)::

    # in the transaction of a change: store.outbox.emit(session, subject, "invoice.paid", event_payload(id, time, data))
    return with_webhooks(ServiceSpec(...), store, settings)     # WebhookService, the dispatcher and the worker

- with_webhooks                 a ServiceSpec plus WebhookService and the two jobs, started once the store answers

- Webhooks, NewEndpoint         the domain: create (idempotent on request_id), get, list, update at an etag, delete,
                                rotate (old and new secret sign during the overlap), deliveries, redeliver, fan_out
- event_payload                 the outbox payload of an event to send (its id becomes webhook-id)
- DeliveryWorker, backoff_s     POSTs due deliveries under a lease: per-attempt timeout, exponential backoff with
                                full jitter, dead letter after N attempts, an endpoint disabled after a failure
                                streak, at most N attempts in flight per endpoint so one receiver never delays others
- WebhookSettings               WEBHOOK_* settings of delivery, and the key sealing secrets at rest
- SecretSealer, SealingError    secrets sealed at rest with AES-256-GCM; Webhooks.reseal seals them under a new key
- WebhookStore                  the collections (endpoints, events, deliveries) and their INDEXES
- check_url                     https only; http for loopback, localhost and .test hosts
- new_secret, message_body, signed_headers   the spec's secret, body and headers (signed by `standardwebhooks`)
- WebhookServicer, webhooks_registration     lucid.tron.v1.WebhookService (loads grpc)
- PENDING, SUCCEEDED, DEAD_LETTER, ETAG_MISMATCH   stored delivery states; the Aborted reason of a stale etag

Delivery is at least once: a receiver deduplicates on webhook-id (the event id, the same on every attempt and
redelivery). Attempts to one endpoint may overlap, so events can arrive out of order: the service puts a per-subject
sequence in the data for receivers to order by. Events and deliveries are kept 30 days.

Counters (Prometheus, served on METRICS_PORT): lucid_webhook_attempts_total{outcome=succeeded|retried|dead_letter},
lucid_webhook_endpoints_disabled_total. Secrets are stored sealed (AES-256-GCM under WEBHOOK_SECRETS_KEY, bound to
their endpoint; `SecretSealer`, rotation in its module) and never appear in a read, a listing, a log or an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lucid_tron.lazy import lazy_exports

if TYPE_CHECKING:
    from ._delivery import DeliveryWorker, backoff_s
    from ._sealing import SealingError, SecretSealer
    from ._service import with_webhooks
    from ._servicer import WebhookServicer, webhooks_registration
    from ._settings import WebhookSettings
    from ._signing import message_body, new_secret, signed_headers
    from ._store import WebhookStore
    from ._urls import check_url
    from ._webhooks import (
        DEAD_LETTER,
        ETAG_MISMATCH,
        PENDING,
        SUCCEEDED,
        NewEndpoint,
        Webhooks,
        event_payload,
    )

__all__ = [
    "DEAD_LETTER",
    "ETAG_MISMATCH",
    "PENDING",
    "SUCCEEDED",
    "DeliveryWorker",
    "SealingError",
    "SecretSealer",
    "NewEndpoint",
    "WebhookServicer",
    "WebhookSettings",
    "WebhookStore",
    "Webhooks",
    "backoff_s",
    "check_url",
    "event_payload",
    "message_body",
    "new_secret",
    "signed_headers",
    "webhooks_registration",
    "with_webhooks",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "DeliveryWorker": "._delivery",
        "backoff_s": "._delivery",
        "SealingError": "._sealing",
        "SecretSealer": "._sealing",
        "with_webhooks": "._service",
        "WebhookServicer": "._servicer",
        "webhooks_registration": "._servicer",
        "WebhookSettings": "._settings",
        "message_body": "._signing",
        "new_secret": "._signing",
        "signed_headers": "._signing",
        "WebhookStore": "._store",
        "check_url": "._urls",
        "DEAD_LETTER": "._webhooks",
        "ETAG_MISMATCH": "._webhooks",
        "PENDING": "._webhooks",
        "SUCCEEDED": "._webhooks",
        "NewEndpoint": "._webhooks",
        "Webhooks": "._webhooks",
        "event_payload": "._webhooks",
    },
)

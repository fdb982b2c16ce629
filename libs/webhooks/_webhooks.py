"""Webhooks, the domain: endpoints as resources (created once per request_id, changed at an etag, secrets rotated
with an overlap), the fan-out of outbox events into deliveries, and redeliveries.

Plain async Python, no grpc: `_servicer` adapts it to lucid.tron.v1.WebhookService; it raises `lucid_tron.errors`.
A secret leaves this module only in the response of a create or a rotation (and in the signatures); it is stored
sealed (`_sealing`), and opened only to sign.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bson import ObjectId
from google.protobuf.message import Message
from pymongo.asynchronous.client_session import AsyncClientSession

from lucid_tron.errors import Aborted, NotFound
from lucid_tron.storage import MoneyStore, OutboxEvent, in_transaction, utc_now

from ._sealing import SealingError, SecretSealer
from ._signing import message_body, new_secret
from ._store import DEAD_LETTER, PENDING, SUCCEEDED, WebhookStore

__all__ = [
    "DEAD_LETTER",
    "ETAG_MISMATCH",
    "PENDING",
    "SUCCEEDED",
    "NewEndpoint",
    "Webhooks",
    "event_payload",
    "signing_secrets",
]

ETAG_MISMATCH = "ETAG_MISMATCH"
_SECRET_FIELDS = ("secret", "previous_secret")
_log = logging.getLogger("lucid_tron.webhooks")
OPERATOR_DISABLED = "disabled by an operator"
#: How long fan_out reuses its read of the enabled endpoints. Changes made through this process apply at once;
#: another replica's endpoint created (or disabled) this long before an event may miss (or still get) it.
ENDPOINTS_REUSED_S = 0.5

M = TypeVar("M", bound=Message)


def event_payload(event_id: str, time: datetime, data: Mapping[str, Any]) -> dict[str, Any]:
    """The outbox payload of an event to send as a webhook (emitted with `kind` = the event type, e.g.
    "invoice.created"): `event_id` becomes webhook-id, `time` the body's timestamp, `data` its data."""
    return {"event_id": event_id, "time": time, "data": dict(data)}


@dataclass(frozen=True)
class NewEndpoint:
    """A checked CreateWebhookEndpoint request."""

    url: str
    description: str
    event_types: Sequence[str]


class Webhooks:
    """The webhooks of one service, on its MongoDB store (a MoneyStore: idempotency keys for creates)."""

    def __init__(self, store: MoneyStore, sealer: SecretSealer | None = None) -> None:
        self._host = store
        self.store = WebhookStore(store)
        #: How secrets are stored: unsealed without one.
        self.sealer = sealer or SecretSealer(None)
        self._due = asyncio.Event()

    # -- endpoints ----------------------------------------------------------------------------------------------

    async def create(
        self,
        request_id: str,
        request: Message,
        new: NewEndpoint,
        respond: Callable[[Mapping[str, Any], str], M],
        response_type: type[M],
    ) -> M:
        """The response (`respond(endpoint, secret)`) of CreateWebhookEndpoint, run once per request_id: a retry
        gets the same endpoint and secret. The endpoint and the stored response commit together."""
        keys = self._host.idempotency_keys
        call = await keys.begin("CreateWebhookEndpoint", request_id, request)
        if call.replay is not None:
            return response_type.FromString(call.replay)
        try:
            now = utc_now()
            secret = new_secret()
            endpoint_id = f"whe_{ObjectId()}"
            endpoint = {
                "_id": endpoint_id,
                "url": new.url,
                "description": new.description,
                "event_types": list(new.event_types),
                "disabled": False,
                "disabled_reason": "",
                "failure_streak": 0,
                "secret": self.sealer.seal(secret, endpoint_id),
                "previous_secret": None,
                "previous_secret_expire_at": None,
                "etag": _new_etag(),
                "created_at": now,
                "updated_at": now,
            }
            response = respond(_public(endpoint), secret)
            body = response.SerializeToString(deterministic=True)

            async def work(session: AsyncClientSession) -> None:
                await self.store.insert_endpoint(endpoint, session=session)
                await keys.complete(call, body, session=session)

            with self._host.bounded():
                await in_transaction(self._host.db.client, work)
            self.store.endpoints_changed()
        except BaseException:
            await keys.abandon(call)
            raise
        return response

    async def get(self, endpoint_id: str) -> dict[str, Any]:
        endpoint = await self.store.endpoint(endpoint_id)
        if endpoint is None:
            raise NotFound("webhook endpoint", endpoint_id)
        return endpoint

    async def list_page(self, page_size: int, after_id: str | None) -> tuple[list[dict[str, Any]], str]:
        """One page, oldest first, and the id to continue after ("" on the last page)."""
        page = await self.store.endpoints(after_id, page_size + 1)
        if len(page) > page_size:
            return page[:page_size], page[page_size - 1]["_id"]
        return page, ""

    async def update(self, endpoint_id: str, etag: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Set `changes` (url, description, event_types, disabled) on the endpoint at `etag`. Enabling an endpoint
        clears its failure streak, so one more failure does not disable it again at once."""
        fields = dict(changes)
        if "disabled" in fields:
            fields["disabled_reason"] = OPERATOR_DISABLED if fields["disabled"] else ""
            if not fields["disabled"]:
                fields["failure_streak"] = 0
        updated = await self.store.update_endpoint(
            endpoint_id, etag, {**fields, "etag": _new_etag(), "updated_at": utc_now()}
        )
        if updated is None:
            await self._missed(endpoint_id)
        assert updated is not None
        if not updated["disabled"]:
            self.wake()
        return updated

    async def delete(self, endpoint_id: str, etag: str | None) -> None:
        """Forget the endpoint (at `etag` when given); its pending deliveries are dead-lettered, its history kept."""
        if not await self.store.delete_endpoint(endpoint_id, etag, utc_now()):
            await self._missed(endpoint_id)

    async def rotate(self, endpoint_id: str, etag: str, overlap: timedelta) -> tuple[dict[str, Any], str]:
        """A new secret for the endpoint at `etag`; the one it replaces keeps signing (as a second signature) for
        `overlap`. The endpoint and the new secret."""
        endpoint = await self.store.endpoint(endpoint_id, with_secrets=True)
        if endpoint is None:
            raise NotFound("webhook endpoint", endpoint_id)
        now = utc_now()
        secret = new_secret()
        changes = {
            "secret": self.sealer.seal(secret, endpoint_id),
            "previous_secret": endpoint["secret"] if overlap > timedelta(0) else None,  # as stored: it opens alike
            "previous_secret_expire_at": now + overlap if overlap > timedelta(0) else None,
            "etag": _new_etag(),
            "updated_at": now,
        }
        updated = await self.store.update_endpoint(endpoint_id, etag, changes)
        if updated is None:
            await self._missed(endpoint_id)
        assert updated is not None
        return updated, secret

    def signing_secrets(self, endpoint: Mapping[str, Any], now: datetime) -> list[str]:
        """The secrets, opened, that a delivery to `endpoint` at `now` is signed with (SealingError when one does
        not open)."""
        return [self.sealer.open(stored, endpoint["_id"]) for stored in signing_secrets(endpoint, now)]

    async def reseal(self) -> int:
        """Store every endpoint's secrets as the sealer seals now: under a new key (the previous one still opens
        them), or sealed for the first time. How many endpoints changed; one whose secret no key opens is left as
        it is (and logged), as is one changed meanwhile (it was sealed by that change)."""
        changed = 0
        for endpoint in await self.store.endpoints_secrets():
            stored = {field: endpoint.get(field) for field in _SECRET_FIELDS}
            if all(value is None or self.sealer.is_current(value) for value in stored.values()):
                continue
            try:
                resealed = {
                    field: None if value is None else self.sealer.seal(self.sealer.open(value, endpoint["_id"]),
                                                                       endpoint["_id"])
                    for field, value in stored.items()
                }  # fmt: skip
            except SealingError as error:
                _log.warning("left a webhook secret as it is: %s", error)
                continue
            changed += await self.store.replace_secrets(endpoint["_id"], stored, resealed)
        return changed

    async def disable(self, endpoint_id: str, reason: str) -> bool:
        """Disable an enabled endpoint (the delivery worker does, after a failure streak); False when it was not
        enabled."""
        return await self.store.disable(endpoint_id, reason, _new_etag(), utc_now())

    async def _missed(self, endpoint_id: str) -> None:
        """Raise why an endpoint was not changed: it does not exist, or not at the version given."""
        if await self.store.endpoint(endpoint_id) is None:
            raise NotFound("webhook endpoint", endpoint_id)
        raise Aborted("the webhook endpoint changed since it was read (etag mismatch); read it again",
                      reason=ETAG_MISMATCH)

    # -- deliveries ---------------------------------------------------------------------------------------------

    async def list_deliveries(
        self, endpoint_id: str, states: Collection[str], event_id: str | None, page_size: int, before_id: str | None
    ) -> tuple[list[dict[str, Any]], str]:
        """One page of the endpoint's deliveries, newest first, and the id to continue before ("" on the last)."""
        page = await self.store.deliveries(endpoint_id, states, event_id, before_id, page_size + 1)
        if len(page) > page_size:
            return page[:page_size], page[page_size - 1]["_id"]
        return page, ""

    async def redeliver(self, endpoint_id: str, event_id: str) -> dict[str, Any]:
        """A new PENDING delivery of the event to the endpoint, due now (also after a dead letter, or for an event
        the endpoint's filter left out)."""
        await self.get(endpoint_id)
        event = await self.store.event(event_id)
        if event is None:
            raise NotFound("webhook event", event_id)
        delivery_id = f"whd_{ObjectId()}"
        delivery = _new_delivery(delivery_id, f"{endpoint_id}/{event_id}/{delivery_id}", endpoint_id, event)
        await self.store.insert_delivery(delivery)
        self.wake()
        return delivery

    async def fan_out(self, event: OutboxEvent) -> None:
        """The OutboxDispatcher's `deliver`: one PENDING delivery of the event per enabled endpoint whose filter
        takes its type, and the event kept for redeliveries when any does. Idempotent (a delivery per (endpoint,
        event)), so the dispatcher may call it again.

        The enabled endpoints are read at most every ENDPOINTS_REUSED_S: a burst of events reads them once."""
        endpoints = [
            endpoint for endpoint in await self.store.enabled_endpoints(reuse_s=ENDPOINTS_REUSED_S)
            if not endpoint["event_types"] or event.kind in endpoint["event_types"]
        ]
        if not endpoints:
            return
        payload = event.payload
        event_id = payload["event_id"]
        record = {
            "_id": event_id,
            "type": event.kind,
            "subject": event.subject,
            "body": message_body(event.kind, payload["time"], payload["data"]),
            "time": payload["time"],
            "created_at": utc_now(),
        }
        await self.store.record_event(record)
        added = 0
        for endpoint in endpoints:
            delivery = _new_delivery(
                f"whd_{ObjectId()}", f"{endpoint['_id']}/{event_id}", endpoint["_id"], record
            )
            added += await self.store.insert_delivery(delivery)
        if added:
            self.wake()

    def wake(self) -> None:
        """Tell this process's delivery worker that a delivery is due now (others find it when they next look)."""
        self._due.set()

    async def wait_due(self, timeout_s: float) -> None:
        """Until `wake()` or `timeout_s`."""
        # asyncio.timeout, not wait_for: Python 3.11's wait_for swallows a cancellation that arrives as the event
        # is set, and the worker would never stop.
        with suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._due.wait()
        self._due.clear()


def signing_secrets(endpoint: Mapping[str, Any], now: datetime) -> list[str]:
    """The secrets a delivery at `now` is signed with: the current one, and the previous one during its overlap."""
    signing = [endpoint["secret"]]
    previous_until = endpoint.get("previous_secret_expire_at")
    if endpoint.get("previous_secret") and previous_until is not None and previous_until > now:
        signing.append(endpoint["previous_secret"])
    return signing


def _new_delivery(delivery_id: str, key: str, endpoint_id: str, event: Mapping[str, Any]) -> dict[str, Any]:
    now = utc_now()
    return {
        "_id": delivery_id,
        "key": key,
        "endpoint_id": endpoint_id,
        "event_id": event["_id"],
        "event_type": event["type"],
        "body": event["body"],
        "state": PENDING,
        "attempt": 0,
        "http_status": 0,
        "latency_ms": 0,
        "error": "",
        "next_attempt_at": now,
        "attempts": [],
        "created_at": now,
        "updated_at": now,
    }


def _public(endpoint: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in endpoint.items() if key not in _SECRET_FIELDS}


def _new_etag() -> str:
    return secrets.token_hex(8)

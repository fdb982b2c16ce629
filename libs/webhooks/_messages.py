"""The proto side of webhooks: the checks of lucid.tron.v1.WebhookService's requests (every bad field named at once)
and the mapping between its messages and the stored endpoints and deliveries."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from google.protobuf import duration_pb2, timestamp_pb2

from lucid.tron.v1 import events_pb2, webhooks_pb2 as wh
from lucid_tron.validation import FieldChecks

from ._store import DEAD_LETTER, PENDING, SUCCEEDED
from ._urls import check_url
from ._webhooks import NewEndpoint

SERVICE_NAME: str = wh.DESCRIPTOR.services_by_name["WebhookService"].full_name

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_DESCRIPTION = 512
MAX_EVENT_ID = 128
DEFAULT_OVERLAP = timedelta(hours=24)
MAX_OVERLAP = timedelta(days=7)
#: What UpdateWebhookEndpoint may change.
UPDATABLE = ("url", "description", "event_types", "disabled")
_ENDPOINT_ID = re.compile(r"whe_[0-9a-f]{24}")
_DELIVERY_ID = re.compile(r"whd_[0-9a-f]{24}")


def _event_type_name(number: int) -> str:
    """EVENT_TYPE_INVOICE_PAYMENT_SEEN -> "invoice.payment_seen": the type as webhooks and the outbox name it."""
    subject, _, what = events_pb2.EventType.Name(number).removeprefix("EVENT_TYPE_").lower().partition("_")
    return f"{subject}.{what}"


EVENT_TYPES_BY_NUMBER: Mapping[int, str] = {
    number: _event_type_name(number) for number in events_pb2.EventType.values() if number
}
NUMBERS_BY_EVENT_TYPE: Mapping[str, int] = {name: number for number, name in EVENT_TYPES_BY_NUMBER.items()}
STATES_BY_NUMBER: Mapping[int, str] = {
    wh.DELIVERY_STATE_PENDING: PENDING,
    wh.DELIVERY_STATE_SUCCEEDED: SUCCEEDED,
    wh.DELIVERY_STATE_DEAD_LETTER: DEAD_LETTER,
}
NUMBERS_BY_STATE: Mapping[str, int] = {state: number for number, state in STATES_BY_NUMBER.items()}


# -- requests -----------------------------------------------------------------------------------------------------


def new_endpoint(check: FieldChecks, request: wh.CreateWebhookEndpointRequest) -> NewEndpoint | None:
    url = check_url(check, "url", request.url)
    description = check.string("description", request.description, required=False, max_length=MAX_DESCRIPTION)
    event_types = _event_types(check, "event_types", request.event_types)
    if url is None or event_types is None:
        return None
    return NewEndpoint(url, description or "", event_types)


def endpoint_id(check: FieldChecks, value: str, field: str = "endpoint_id") -> str | None:
    return check.pattern(field, value, _ENDPOINT_ID, expected='an endpoint id, "whe_" and 24 hex digits')


def endpoint_page_token(check: FieldChecks, value: str) -> str | None:
    if not value:
        return None
    return endpoint_id(check, value, "page_token")


def delivery_page_token(check: FieldChecks, value: str) -> str | None:
    if not value:
        return None
    return check.pattern("page_token", value, _DELIVERY_ID, expected="a next_page_token of ListWebhookDeliveries")


def etag(check: FieldChecks, field: str, value: str, *, required: bool) -> str | None:
    return check.string(field, value, required=required, max_length=64)


def changes(check: FieldChecks, request: wh.UpdateWebhookEndpointRequest) -> dict[str, Any]:
    """The fields named by update_mask, with their new values from `endpoint`. Without a mask, the fields that
    `endpoint` populates (AIP-134): a non-empty url, description or event_types, and disabled when true."""
    endpoint = request.endpoint
    paths = [path.removeprefix("endpoint.") for path in request.update_mask.paths]
    if not request.HasField("update_mask"):
        paths = [path for path in UPDATABLE if _populated(endpoint, path)]
    if not paths:
        check.fail("update_mask", f"names no field to change; of {', '.join(UPDATABLE)}")
    unknown = sorted(set(paths) - set(UPDATABLE))
    if unknown:
        check.fail("update_mask", f"cannot change {', '.join(unknown)}; only {', '.join(UPDATABLE)}")
    fields: dict[str, Any] = {}
    if "url" in paths:
        fields["url"] = check_url(check, "endpoint.url", endpoint.url)
    if "description" in paths:
        fields["description"] = check.string(
            "endpoint.description", endpoint.description, required=False, max_length=MAX_DESCRIPTION
        ) or ""
    if "event_types" in paths:
        fields["event_types"] = _event_types(check, "endpoint.event_types", endpoint.event_types)
    if "disabled" in paths:
        fields["disabled"] = endpoint.disabled
    return fields


def _populated(endpoint: wh.WebhookEndpoint, path: str) -> bool:
    value = getattr(endpoint, path)
    return bool(len(value)) if path == "event_types" else bool(value)


def overlap(check: FieldChecks, request: wh.RotateWebhookSecretRequest) -> timedelta:
    """The rotation's overlap: 24 h when unset, 0 (no overlap) when set to zero, at most 7 days."""
    if not request.HasField("overlap"):
        return DEFAULT_OVERLAP
    seconds = check.duration(
        "overlap", request.overlap.seconds, request.overlap.nanos, maximum_s=MAX_OVERLAP.total_seconds()
    )
    return timedelta(seconds=seconds or 0)


def delivery_states(check: FieldChecks, values: Sequence[int]) -> list[str]:
    states = []
    for value in values:
        state = check.enum("states", value, STATES_BY_NUMBER)
        if state is not None:
            states.append(state)
    return states


def event_id(check: FieldChecks, value: str, *, required: bool) -> str | None:
    return check.string("event_id", value, required=required, max_length=MAX_EVENT_ID)


def _event_types(check: FieldChecks, field: str, values: Sequence[int]) -> list[str] | None:
    names: list[str] = []
    for value in values:
        name = check.enum(field, value, EVENT_TYPES_BY_NUMBER)
        if name is None:
            return None
        if name not in names:
            names.append(name)
    return names


# -- responses ----------------------------------------------------------------------------------------------------


def timestamp(at: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(at)
    return stamp


def endpoint_message(endpoint: Mapping[str, Any]) -> wh.WebhookEndpoint:
    message = wh.WebhookEndpoint(
        endpoint_id=endpoint["_id"],
        url=endpoint["url"],
        description=endpoint["description"],
        event_types=[NUMBERS_BY_EVENT_TYPE[name] for name in endpoint["event_types"]],
        disabled=endpoint["disabled"],
        disabled_reason=endpoint["disabled_reason"],
        failure_streak=endpoint["failure_streak"],
        etag=endpoint["etag"],
        create_time=timestamp(endpoint["created_at"]),
        update_time=timestamp(endpoint["updated_at"]),
    )
    if endpoint.get("previous_secret_expire_at") is not None:
        message.rotation_overlap_end_time.CopyFrom(timestamp(endpoint["previous_secret_expire_at"]))
    return message


def delivery_message(delivery: Mapping[str, Any]) -> wh.WebhookDelivery:
    message = wh.WebhookDelivery(
        delivery_id=delivery["_id"],
        endpoint_id=delivery["endpoint_id"],
        event_id=delivery["event_id"],
        event_type=NUMBERS_BY_EVENT_TYPE.get(delivery["event_type"], events_pb2.EVENT_TYPE_UNSPECIFIED),
        state=NUMBERS_BY_STATE[delivery["state"]],
        attempt=delivery["attempt"],
        http_status=delivery["http_status"],
        latency=duration_pb2.Duration(
            seconds=delivery["latency_ms"] // 1000, nanos=delivery["latency_ms"] % 1000 * 1_000_000
        ),
        error=delivery["error"],
        create_time=timestamp(delivery["created_at"]),
        update_time=timestamp(delivery["updated_at"]),
    )
    if delivery.get("next_attempt_at") is not None:
        message.next_attempt_time.CopyFrom(timestamp(delivery["next_attempt_at"]))
    return message

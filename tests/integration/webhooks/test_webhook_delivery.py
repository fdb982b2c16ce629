"""Delivery from the outbox to real receivers on loopback: signed per the Standard Webhooks spec (checked by its
reference library), retried with backoff, dead-lettered, endpoints disabled after a failure streak, and a receiver
that hangs never delaying another endpoint."""

from __future__ import annotations

import json
from dataclasses import replace

from google.protobuf import field_mask_pb2
from prometheus_client import REGISTRY
from standardwebhooks import Webhook

from integration.webhooks.webhook_kit import FAST, INVOICE_PAID, Hub, Receiver, eventually
from lucid.tron.v1 import webhooks_pb2 as wh

SUCCEEDED = wh.DELIVERY_STATE_SUCCEEDED
PENDING = wh.DELIVERY_STATE_PENDING
DEAD_LETTER = wh.DELIVERY_STATE_DEAD_LETTER


def attempts_counted(outcome: str) -> float:
    return REGISTRY.get_sample_value("lucid_webhook_attempts_total", {"outcome": outcome}) or 0.0


async def delivered_state(hub: Hub, endpoint_id: str, state: int, count: int = 1) -> list[wh.WebhookDelivery]:
    async def reached() -> bool:
        return sum(d.state == state for d in await hub.deliveries(endpoint_id)) >= count

    await eventually(reached, what=f"{count} deliveries in state {wh.DeliveryState.Name(state)}")
    return await hub.deliveries(endpoint_id)


async def test_a_delivery_is_signed_as_the_standard_webhooks_library_verifies(hub: Hub) -> None:
    async with Receiver() as receiver:
        created = await hub.add_endpoint(receiver.url)
        async with hub.delivering():
            event_id = await hub.emit("invoice.paid", invoice_id="inv_1", status="PAID")
            [request] = await receiver.received(1)

    payload = Webhook(created.secret).verify(request.body, request.headers)
    assert request.headers["webhook-id"] == event_id
    assert payload["type"] == "invoice.paid" and payload["data"] == {"invoice_id": "inv_1", "status": "PAID"}
    assert payload["timestamp"].endswith("Z")
    assert request.headers["Content-Type"] == "application/json"


async def test_a_successful_delivery_is_recorded_with_its_attempt(hub: Hub) -> None:
    before = attempts_counted("succeeded")
    async with Receiver() as receiver:
        created = await hub.add_endpoint(receiver.url)
        async with hub.delivering():
            event_id = await hub.emit()
            [delivery] = await delivered_state(hub, created.endpoint.endpoint_id, SUCCEEDED)

    assert (delivery.event_id, delivery.attempt, delivery.http_status) == (event_id, 1, 200)
    assert delivery.delivery_id.startswith("whd_") and not delivery.HasField("next_attempt_time")
    assert delivery.event_type == INVOICE_PAID - 3  # invoice.created
    assert attempts_counted("succeeded") == before + 1


async def test_during_a_rotation_overlap_both_secrets_sign_each_delivery(hub: Hub) -> None:
    async with Receiver() as receiver:
        created = await hub.add_endpoint(receiver.url)
        rotated = await hub.stub.RotateWebhookSecret(wh.RotateWebhookSecretRequest(
            endpoint_id=created.endpoint.endpoint_id, etag=created.endpoint.etag))
        async with hub.delivering():
            await hub.emit()
            [request] = await receiver.received(1)

    assert rotated.secret != created.secret and rotated.endpoint.HasField("rotation_overlap_end_time")
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(rotated.secret).verify(request.body, request.headers)
    Webhook(created.secret).verify(request.body, request.headers)


async def test_a_receiver_answering_500_is_retried_until_it_succeeds(hub: Hub) -> None:
    async with Receiver(answers=[500, 503]) as receiver:
        created = await hub.add_endpoint(receiver.url)
        async with hub.delivering():
            await hub.emit()
            [delivery] = await delivered_state(hub, created.endpoint.endpoint_id, SUCCEEDED)

    assert (delivery.attempt, delivery.http_status) == (3, 200)
    assert delivery.error == "HTTP 503"  # the last failed attempt's
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1 and len(receiver.requests) == 3


async def test_a_garbage_answer_fails_the_attempt_and_is_retried(hub: Hub) -> None:
    async with Receiver(answers=["garbage"]) as receiver:
        created = await hub.add_endpoint(receiver.url)
        async with hub.delivering():
            await hub.emit()
            [delivery] = await delivered_state(hub, created.endpoint.endpoint_id, SUCCEEDED)

    assert delivery.attempt == 2 and "Bad status line" in delivery.error


async def test_a_hanging_receiver_times_out_and_is_retried(hub: Hub) -> None:
    async with Receiver(answers=["hang"]) as receiver:
        created = await hub.add_endpoint(receiver.url)
        async with hub.delivering(replace(FAST, webhook_attempt_timeout_s=0.3)):
            await hub.emit()
            [delivery] = await delivered_state(hub, created.endpoint.endpoint_id, SUCCEEDED)

    assert delivery.attempt == 2 and "within 0.3 s" in delivery.error


async def test_a_hanging_receiver_does_not_delay_deliveries_to_another_endpoint(hub: Hub) -> None:
    settings = replace(FAST, webhook_attempt_timeout_s=60.0, webhook_max_in_flight_per_endpoint=2)
    async with Receiver(otherwise="hang") as stuck, Receiver() as healthy:
        await hub.add_endpoint(stuck.url)
        await hub.add_endpoint(healthy.url)
        async with hub.delivering(settings):
            for number in range(10):
                await hub.emit(subject=f"invoice/inv_{number}")
            await healthy.received(10)
            # Every delivery reached the healthy receiver while the stuck one still holds its first two.
            assert stuck.hanging == 2 and len(stuck.requests) == 2


async def test_a_delivery_is_dead_lettered_after_the_last_allowed_attempt(hub: Hub) -> None:
    before = attempts_counted("dead_letter")
    async with Receiver(otherwise=500) as receiver:
        created = await hub.add_endpoint(receiver.url)
        async with hub.delivering(replace(FAST, webhook_max_attempts=3)):
            await hub.emit()
            [delivery] = await delivered_state(hub, created.endpoint.endpoint_id, DEAD_LETTER)

    assert (delivery.attempt, delivery.http_status, delivery.error) == (3, 500, "HTTP 500")
    assert len(receiver.requests) == 3 and not delivery.HasField("next_attempt_time")
    assert attempts_counted("dead_letter") == before + 1


async def test_a_failed_attempt_schedules_the_next_one(hub: Hub) -> None:
    async with Receiver(otherwise=500) as receiver:
        created = await hub.add_endpoint(receiver.url)
        slow_retries = replace(FAST, webhook_backoff_base_s=600, webhook_backoff_max_s=600)
        async with hub.delivering(slow_retries):
            await hub.emit()
            await receiver.received(1)
            await eventually(lambda: _attempted(hub, created.endpoint.endpoint_id), what="the attempt recorded")

    [delivery] = await hub.deliveries(created.endpoint.endpoint_id)
    assert delivery.state == PENDING and delivery.attempt == 1 and delivery.http_status == 500
    wait = delivery.next_attempt_time.ToSeconds() - delivery.update_time.ToSeconds()
    assert 0 <= wait <= 600


async def _attempted(hub: Hub, endpoint_id: str) -> bool:
    return any(d.attempt for d in await hub.deliveries(endpoint_id))


async def test_an_endpoint_is_disabled_after_its_failure_streak(hub: Hub) -> None:
    async with Receiver(otherwise=500) as receiver:
        created = await hub.add_endpoint(receiver.url)
        endpoint_id = created.endpoint.endpoint_id
        settings = replace(FAST, webhook_max_attempts=10, webhook_disable_after_failures=3)
        async with hub.delivering(settings):
            await hub.emit()

            async def disabled() -> bool:
                return (await hub.endpoint(endpoint_id)).disabled

            await eventually(disabled, what="the endpoint disabled")
            endpoint = await hub.endpoint(endpoint_id)
            requests_when_disabled = len(receiver.requests)
            await hub.emit()
            [delivery] = await hub.deliveries(endpoint_id)

    assert endpoint.failure_streak == 3 and "3 failed attempts in a row" in endpoint.disabled_reason
    assert requests_when_disabled == 3 and delivery.state == PENDING


async def test_a_success_resets_the_failure_streak(hub: Hub) -> None:
    async with Receiver(answers=[500, 500]) as receiver:
        created = await hub.add_endpoint(receiver.url)
        async with hub.delivering():
            await hub.emit()
            await delivered_state(hub, created.endpoint.endpoint_id, SUCCEEDED)
            endpoint = await hub.endpoint(created.endpoint.endpoint_id)

    assert endpoint.failure_streak == 0 and not endpoint.disabled


async def test_an_endpoint_gets_only_the_event_types_it_asked_for(hub: Hub) -> None:
    async with Receiver() as paid_only, Receiver() as everything:
        await hub.add_endpoint(paid_only.url, event_types=[INVOICE_PAID])
        await hub.add_endpoint(everything.url)
        async with hub.delivering():
            await hub.emit("invoice.created")
            await hub.emit("invoice.paid")
            await everything.received(2)
            await paid_only.received(1)

    assert [json.loads(r.body)["type"] for r in paid_only.requests] == ["invoice.paid"]


async def test_a_redelivery_sends_the_event_again_as_a_new_delivery(hub: Hub) -> None:
    async with Receiver() as receiver:
        created = await hub.add_endpoint(receiver.url)
        endpoint_id = created.endpoint.endpoint_id
        async with hub.delivering():
            event_id = await hub.emit()
            [first] = await delivered_state(hub, endpoint_id, SUCCEEDED)
            again = (await hub.stub.RedeliverWebhookEvent(
                wh.RedeliverWebhookEventRequest(endpoint_id=endpoint_id, event_id=event_id))).delivery
            await delivered_state(hub, endpoint_id, SUCCEEDED, count=2)
            requests = await receiver.received(2)

    assert again.state == PENDING and again.delivery_id != first.delivery_id and again.event_id == event_id
    assert [r.headers["webhook-id"] for r in requests] == [event_id, event_id]
    assert requests[0].body == requests[1].body


async def test_a_dead_lettered_event_can_be_redelivered(hub: Hub) -> None:
    async with Receiver(answers=[500, 500, 500]) as receiver:
        created = await hub.add_endpoint(receiver.url)
        endpoint_id = created.endpoint.endpoint_id
        async with hub.delivering(replace(FAST, webhook_max_attempts=3)):
            event_id = await hub.emit()
            await delivered_state(hub, endpoint_id, DEAD_LETTER)
            await hub.stub.RedeliverWebhookEvent(
                wh.RedeliverWebhookEventRequest(endpoint_id=endpoint_id, event_id=event_id))
            await delivered_state(hub, endpoint_id, SUCCEEDED)

    assert [r.headers["webhook-id"] for r in receiver.requests] == [event_id] * 4


async def test_two_replicas_deliver_each_event_once(hub: Hub) -> None:
    async with Receiver() as receiver:
        created = await hub.add_endpoint(receiver.url)
        async with hub.delivering(owner="replica-1"), hub.delivering(owner="replica-2"):
            ids = [await hub.emit(subject=f"invoice/inv_{number}") for number in range(6)]
            await delivered_state(hub, created.endpoint.endpoint_id, SUCCEEDED, count=6)

    assert sorted(r.headers["webhook-id"] for r in receiver.requests) == sorted(ids)


async def test_deleting_an_endpoint_dead_letters_its_pending_deliveries_and_keeps_them(hub: Hub) -> None:
    async with Receiver(otherwise=500) as receiver:
        created = await hub.add_endpoint(receiver.url)
        endpoint_id = created.endpoint.endpoint_id
        never_again = replace(FAST, webhook_backoff_base_s=600, webhook_backoff_max_s=600)
        async with hub.delivering(never_again):
            await hub.emit()
            await receiver.received(1)
            await eventually(lambda: _attempted(hub, endpoint_id), what="the attempt recorded")
        await hub.stub.DeleteWebhookEndpoint(wh.DeleteWebhookEndpointRequest(endpoint_id=endpoint_id))

    [delivery] = await hub.deliveries(endpoint_id)
    assert delivery.state == DEAD_LETTER and delivery.error == "endpoint deleted"


async def test_deliveries_are_listed_newest_first_and_filtered(hub: Hub) -> None:
    async with Receiver() as receiver:
        created = await hub.add_endpoint(receiver.url)
        endpoint_id = created.endpoint.endpoint_id
        async with hub.delivering():
            ids = [await hub.emit(subject=f"invoice/inv_{number}") for number in range(3)]
            await delivered_state(hub, endpoint_id, SUCCEEDED, count=3)
        first = await hub.stub.ListWebhookDeliveries(
            wh.ListWebhookDeliveriesRequest(endpoint_id=endpoint_id, page_size=2))
        second = await hub.stub.ListWebhookDeliveries(
            wh.ListWebhookDeliveriesRequest(endpoint_id=endpoint_id, page_size=2, page_token=first.next_page_token))
        by_event = await hub.deliveries(endpoint_id, event_id=ids[1])
        pending = await hub.deliveries(endpoint_id, states=[PENDING])

    listed = [*first.deliveries, *second.deliveries]
    assert [d.delivery_id for d in listed] == sorted((d.delivery_id for d in listed), reverse=True)
    assert sorted(d.event_id for d in listed) == sorted(ids) and second.next_page_token == ""
    assert [d.event_id for d in by_event] == [ids[1]] and pending == []


async def test_fanning_an_event_out_again_adds_no_delivery(hub: Hub) -> None:
    created = await hub.add_endpoint("https://shop.example/hooks")
    await hub.emit()
    [event] = await hub.store.outbox.pending(10)
    await hub.webhooks.fan_out(event)
    await hub.webhooks.fan_out(event)  # the dispatcher crashed before marking it delivered

    [delivery] = await hub.deliveries(created.endpoint.endpoint_id)
    assert delivery.event_id == event.payload["event_id"] and delivery.state == PENDING


async def test_a_disabled_endpoint_gets_no_delivery_of_new_events(hub: Hub) -> None:
    created = await hub.add_endpoint("https://shop.example/hooks")
    await hub.stub.UpdateWebhookEndpoint(wh.UpdateWebhookEndpointRequest(
        endpoint=wh.WebhookEndpoint(endpoint_id=created.endpoint.endpoint_id, etag=created.endpoint.etag,
                                    disabled=True),
        update_mask=field_mask_pb2.FieldMask(paths=["disabled"])))
    await hub.emit()
    [event] = await hub.store.outbox.pending(10)
    await hub.webhooks.fan_out(event)

    assert await hub.deliveries(created.endpoint.endpoint_id) == []

"""payment-gateway sends its invoice events as webhooks: each event goes into the outbox in the transaction of its
change, and reaches the endpoints registered through the gateway's own WebhookService, signed, with the stored
event's id as webhook-id."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import grpc
from standardwebhooks import Webhook

from integration.payment_gateway.gateway_kit import create_request, gateway
from integration.webhooks.webhook_kit import FAST, Receiver
from lucid.tron.v1 import payment_gateway_pb2 as pg, webhooks_pb2 as wh, webhooks_pb2_grpc
from lucid_tron.peers import WebhookService

FAST_DELIVERY = {
    "webhook_poll_s": FAST.webhook_poll_s,
    "webhook_backoff_base_s": FAST.webhook_backoff_base_s,
    "webhook_backoff_max_s": FAST.webhook_backoff_max_s,
}


async def test_create_invoice_leads_to_a_signed_invoice_created_webhook(
    mongo_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with gateway(mongo_url, redis_url, tmp_path, **FAST_DELIVERY) as running, Receiver() as receiver:
        # The typed peer client the CLI uses, in plaintext like the gateway under test.
        async with WebhookService(running.server.address) as webhooks:
            created = await webhooks.rpc.CreateWebhookEndpoint(
                wh.CreateWebhookEndpointRequest(request_id=str(uuid.uuid4()), url=receiver.url)
            )
            invoice = (await running.stub.CreateInvoice(create_request(order_id="order-42"))).invoice
            [request] = await receiver.received(1)
            [event] = (await running.stub.ListInvoiceEvents(
                pg.ListInvoiceEventsRequest(invoice_id=invoice.invoice_id))).events

    payload = Webhook(created.secret).verify(request.body, request.headers)
    assert request.headers["webhook-id"] == event.event_id
    assert payload["type"] == "invoice.created"
    data = payload["data"]
    assert (data["invoice_id"], data["order_id"], data["status"]) == (invoice.invoice_id, "order-42", "PENDING")
    assert (data["subject"], data["sequence"]) == (f"invoice/{invoice.invoice_id}", 1)


async def test_a_state_change_is_sent_too_numbered_by_its_sequence(
    mongo_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with gateway(mongo_url, redis_url, tmp_path, **FAST_DELIVERY) as running, Receiver() as receiver:
        async with grpc.aio.insecure_channel(running.server.address) as channel:
            await webhooks_pb2_grpc.WebhookServiceStub(channel).CreateWebhookEndpoint(
                wh.CreateWebhookEndpointRequest(request_id=str(uuid.uuid4()), url=receiver.url)
            )
            invoice = (await running.stub.CreateInvoice(create_request())).invoice
            await running.stub.CancelInvoice(pg.CancelInvoiceRequest(invoice_id=invoice.invoice_id, reason="gone"))
            requests = await receiver.received(2)
            events = (await running.stub.ListInvoiceEvents(
                pg.ListInvoiceEventsRequest(invoice_id=invoice.invoice_id))).events

    # Attempts to one endpoint may overlap, so arrival order is not promised: receivers order by sequence.
    requests.sort(key=lambda request: json.loads(request.body)["data"]["sequence"])
    bodies = [json.loads(request.body) for request in requests]
    assert [body["type"] for body in bodies] == ["invoice.created", "invoice.cancelled"]
    assert [request.headers["webhook-id"] for request in requests] == [event.event_id for event in events]
    assert bodies[1]["data"]["reason"] == "gone" and bodies[1]["data"]["status"] == "CANCELLED"

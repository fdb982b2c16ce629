"""The gRPC adapter of webhooks: lucid.tron.v1.WebhookService over `Webhooks`, registered by every service that
sends webhooks (payment-gateway; payout-router next).

Each RPC checks its request (`_messages`, every bad field named at once), calls `Webhooks`, and maps the answer back.
"""

from __future__ import annotations

from typing import Any

from lucid.tron.v1 import webhooks_pb2 as wh
from lucid.tron.v1 import webhooks_pb2_grpc
from lucid_tron.mesh import Registration
from lucid_tron.validation import FieldChecks

from . import _messages as messages
from ._webhooks import Webhooks


class WebhookServicer(webhooks_pb2_grpc.WebhookServiceServicer):
    """lucid.tron.v1.WebhookService."""

    def __init__(self, webhooks: Webhooks) -> None:
        self._webhooks = webhooks

    async def CreateWebhookEndpoint(
        self, request: wh.CreateWebhookEndpointRequest, context: Any
    ) -> wh.CreateWebhookEndpointResponse:
        check = FieldChecks()
        new = messages.new_endpoint(check, request)
        check.done()
        assert new is not None
        return await self._webhooks.create(
            request.request_id,
            request,
            new,
            lambda endpoint, secret: wh.CreateWebhookEndpointResponse(
                endpoint=messages.endpoint_message(endpoint), secret=secret
            ),
            wh.CreateWebhookEndpointResponse,
        )

    async def GetWebhookEndpoint(
        self, request: wh.GetWebhookEndpointRequest, context: Any
    ) -> wh.GetWebhookEndpointResponse:
        check = FieldChecks()
        endpoint_id = messages.endpoint_id(check, request.endpoint_id)
        check.done()
        assert endpoint_id is not None
        return wh.GetWebhookEndpointResponse(endpoint=messages.endpoint_message(await self._webhooks.get(endpoint_id)))

    async def ListWebhookEndpoints(
        self, request: wh.ListWebhookEndpointsRequest, context: Any
    ) -> wh.ListWebhookEndpointsResponse:
        check = FieldChecks()
        size = check.page_size(
            "page_size", request.page_size, default=messages.DEFAULT_PAGE_SIZE, maximum=messages.MAX_PAGE_SIZE
        )
        after = messages.endpoint_page_token(check, request.page_token)
        check.done()
        assert size is not None
        page, next_token = await self._webhooks.list_page(size, after)
        return wh.ListWebhookEndpointsResponse(
            endpoints=[messages.endpoint_message(endpoint) for endpoint in page], next_page_token=next_token
        )

    async def UpdateWebhookEndpoint(
        self, request: wh.UpdateWebhookEndpointRequest, context: Any
    ) -> wh.UpdateWebhookEndpointResponse:
        check = FieldChecks()
        endpoint_id = messages.endpoint_id(check, request.endpoint.endpoint_id, "endpoint.endpoint_id")
        etag = messages.etag(check, "endpoint.etag", request.endpoint.etag, required=True)
        changes = messages.changes(check, request)
        check.done()
        assert endpoint_id is not None and etag is not None
        endpoint = await self._webhooks.update(endpoint_id, etag, changes)
        return wh.UpdateWebhookEndpointResponse(endpoint=messages.endpoint_message(endpoint))

    async def DeleteWebhookEndpoint(
        self, request: wh.DeleteWebhookEndpointRequest, context: Any
    ) -> wh.DeleteWebhookEndpointResponse:
        check = FieldChecks()
        endpoint_id = messages.endpoint_id(check, request.endpoint_id)
        etag = messages.etag(check, "etag", request.etag, required=False)
        check.done()
        assert endpoint_id is not None
        await self._webhooks.delete(endpoint_id, etag)
        return wh.DeleteWebhookEndpointResponse()

    async def RotateWebhookSecret(
        self, request: wh.RotateWebhookSecretRequest, context: Any
    ) -> wh.RotateWebhookSecretResponse:
        check = FieldChecks()
        endpoint_id = messages.endpoint_id(check, request.endpoint_id)
        etag = messages.etag(check, "etag", request.etag, required=True)
        overlap = messages.overlap(check, request)
        check.done()
        assert endpoint_id is not None and etag is not None
        endpoint, secret = await self._webhooks.rotate(endpoint_id, etag, overlap)
        return wh.RotateWebhookSecretResponse(endpoint=messages.endpoint_message(endpoint), secret=secret)

    async def ListWebhookDeliveries(
        self, request: wh.ListWebhookDeliveriesRequest, context: Any
    ) -> wh.ListWebhookDeliveriesResponse:
        check = FieldChecks()
        endpoint_id = messages.endpoint_id(check, request.endpoint_id)
        states = messages.delivery_states(check, request.states)
        event_id = messages.event_id(check, request.event_id, required=False)
        size = check.page_size(
            "page_size", request.page_size, default=messages.DEFAULT_PAGE_SIZE, maximum=messages.MAX_PAGE_SIZE
        )
        before = messages.delivery_page_token(check, request.page_token)
        check.done()
        assert endpoint_id is not None and size is not None
        page, next_token = await self._webhooks.list_deliveries(endpoint_id, states, event_id, size, before)
        return wh.ListWebhookDeliveriesResponse(
            deliveries=[messages.delivery_message(delivery) for delivery in page], next_page_token=next_token
        )

    async def RedeliverWebhookEvent(
        self, request: wh.RedeliverWebhookEventRequest, context: Any
    ) -> wh.RedeliverWebhookEventResponse:
        check = FieldChecks()
        endpoint_id = messages.endpoint_id(check, request.endpoint_id)
        event_id = messages.event_id(check, request.event_id, required=True)
        check.done()
        assert endpoint_id is not None and event_id is not None
        delivery = await self._webhooks.redeliver(endpoint_id, event_id)
        return wh.RedeliverWebhookEventResponse(delivery=messages.delivery_message(delivery))


def webhooks_registration(webhooks: Webhooks) -> Registration:
    """WebhookService over `webhooks`, as the mesh registers it (health and reflection under its full name)."""
    return Registration(
        webhooks_pb2_grpc.add_WebhookServiceServicer_to_server, WebhookServicer(webhooks), messages.SERVICE_NAME
    )

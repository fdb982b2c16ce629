"""Webhooks on a store of their own (a MoneyJobStore with the webhook indexes, a database per test), served over real
gRPC on loopback (plaintext), with the outbox dispatcher and the delivery worker running in the test's process, and
receivers that are real aiohttp servers on free loopback ports.

    async with webhook_service(mongo_url) as hub, Receiver() as receiver:
        endpoint = await hub.add_endpoint(receiver.url)
        async with hub.delivering(settings):
            await hub.emit("invoice.created", data={"invoice_id": "inv_1"})
            [request] = await receiver.received(1)
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
from aiohttp import web
from pymongo.asynchronous.client_session import AsyncClientSession

from lucid.tron.v1 import events_pb2, webhooks_pb2 as wh, webhooks_pb2_grpc
from lucid_tron.mesh import Dependency, ServiceSettings, ServiceSpec, serving
from lucid_tron.storage import MongoSettings, MoneyJobStore, OutboxDispatcher, in_transaction, utc_now
from lucid_tron.webhooks import DeliveryWorker, SecretSealer, Webhooks, WebhookSettings, WebhookStore, event_payload
from lucid_tron.webhooks import webhooks_registration

#: Delivery settings for tests: retries within milliseconds, a short attempt timeout.
FAST = WebhookSettings(
    webhook_attempt_timeout_s=1.0,
    webhook_max_attempts=3,
    webhook_backoff_base_s=0.01,
    webhook_backoff_max_s=0.05,
    webhook_disable_after_failures=1000,
    webhook_max_in_flight_per_endpoint=2,
    webhook_poll_s=0.05,
)
#: How long a test waits for something that should happen within a second before it fails (2 shared cores).
PATIENCE_S = 15.0

INVOICE_CREATED = events_pb2.EVENT_TYPE_INVOICE_CREATED
INVOICE_PAID = events_pb2.EVENT_TYPE_INVOICE_PAID


class HostStore(MoneyJobStore):
    """The store of a service that sends webhooks."""

    service = "webhooks-test"
    indexes = {**MoneyJobStore.indexes, **WebhookStore.INDEXES}


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver: answers each request with the next of `answers` (an HTTP status, "hang" until released,
    or "garbage": bytes that are not HTTP), then `otherwise`; records every request."""

    answers: list[int | str] = field(default_factory=list)
    otherwise: int | str = 200
    requests: list[Received] = field(default_factory=list)
    hanging: int = 0
    url: str = ""

    async def __aenter__(self) -> Receiver:
        self._released = asyncio.Event()
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()
        await self._runner.cleanup()

    def release(self) -> None:
        """End every hanging answer (with a 200)."""
        self._released.set()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(Received(dict(request.headers), await request.read()))
        answer = self.answers.pop(0) if self.answers else self.otherwise
        if answer == "hang":
            self.hanging += 1
            await self._released.wait()
            return web.Response(status=200)
        if answer == "garbage":
            assert request.transport is not None
            request.transport.write(b"\x00\x17 this is not HTTP \xff\r\n\r\n")
            request.transport.close()
            raise asyncio.CancelledError
        assert isinstance(answer, int)
        return web.Response(status=answer, text="ok" if answer < 300 else "no")

    async def received(self, count: int, timeout: float = PATIENCE_S) -> list[Received]:
        """The first `count` requests, once they have arrived."""
        await eventually(lambda: len(self.requests) >= count, timeout, f"{count} requests at {self.url}")
        return self.requests[:count]


async def eventually(condition: Any, timeout: float = PATIENCE_S, what: str = "the condition") -> None:
    """Poll `condition()` (sync or async) until it is true; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        await asyncio.sleep(0.02)


@dataclass
class Hub:
    store: HostStore
    webhooks: Webhooks
    stub: webhooks_pb2_grpc.WebhookServiceStub
    #: Where WebhookService serves (plaintext).
    address: str

    async def add_endpoint(self, url: str, event_types: Sequence[int] = ()) -> wh.CreateWebhookEndpointResponse:
        return await self.stub.CreateWebhookEndpoint(
            wh.CreateWebhookEndpointRequest(request_id=str(uuid.uuid4()), url=url, event_types=event_types)
        )

    async def emit(self, kind: str = "invoice.created", subject: str = "invoice/inv_1", **data: Any) -> str:
        """Commit an event into the outbox as the hosting service does; its id."""
        event_id = f"evt_{uuid.uuid4().hex}"

        async def work(session: AsyncClientSession) -> None:
            await self.store.outbox.emit(session, subject, kind, event_payload(event_id, utc_now(), data))

        with self.store.bounded():
            await in_transaction(self.store.db.client, work)
        return event_id

    async def deliveries(self, endpoint_id: str, **fields: Any) -> list[wh.WebhookDelivery]:
        request = wh.ListWebhookDeliveriesRequest(endpoint_id=endpoint_id, **fields)
        return list((await self.stub.ListWebhookDeliveries(request)).deliveries)

    async def endpoint(self, endpoint_id: str) -> wh.WebhookEndpoint:
        return (await self.stub.GetWebhookEndpoint(wh.GetWebhookEndpointRequest(endpoint_id=endpoint_id))).endpoint

    @asynccontextmanager
    async def delivering(self, settings: WebhookSettings = FAST, *, owner: str = "test") -> AsyncIterator[None]:
        """The outbox dispatcher and the delivery worker, running until the block ends."""
        leases = self.store.leases(owner=owner, ttl_s=10)
        dispatcher = OutboxDispatcher(self.store.outbox, self.webhooks.fan_out, leases, poll_s=settings.webhook_poll_s)
        worker = DeliveryWorker(self.webhooks, leases, settings)
        tasks = [asyncio.create_task(dispatcher.run()), asyncio.create_task(worker.run())]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            # Bounded, as the gateway's stop: on Python 3.11 a MongoDB call can swallow a cancellation, and a
            # dispatcher that missed it ends when its store closes.
            await asyncio.wait(tasks, timeout=5.0)


@asynccontextmanager
async def webhook_service(mongo_url: str, sealer: SecretSealer | None = None) -> AsyncIterator[Hub]:
    """WebhookService on a database of its own; secrets sealed by `sealer` (unsealed without one)."""
    store = HostStore(MongoSettings(mongo_url=mongo_url, mongo_database=f"webhooks_{uuid.uuid4().hex[:12]}"))
    webhooks = Webhooks(store, sealer)
    spec = ServiceSpec(
        name="webhooks-test",
        services=[webhooks_registration(webhooks)],
        dependencies=[Dependency("mongodb", store.ping, open=store.open)],
        on_stop=[store.close],
    )
    async with serving(spec, ServiceSettings(port=0, insecure_plaintext=True)) as server:
        async with grpc.aio.insecure_channel(server.address) as channel:
            yield Hub(store, webhooks, webhooks_pb2_grpc.WebhookServiceStub(channel), server.address)

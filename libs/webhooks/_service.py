"""Webhooks added to a service: its WebhookService, and the outbox dispatcher and the delivery worker as jobs."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import socket

from lucid_tron.mesh import ServiceSpec
from lucid_tron.storage import MoneyJobStore, OutboxDispatcher

from ._delivery import DeliveryWorker
from ._servicer import webhooks_registration
from ._settings import WebhookSettings
from ._webhooks import Webhooks

__all__ = ["LEASE_S", "STOP_S", "with_webhooks"]

#: How long the jobs hold their leases: a replica that dies hands over within this.
LEASE_S = 15.0
#: How long a stop waits for the jobs to release their leases.
STOP_S = 5.0

_log = logging.getLogger("lucid_tron.webhooks")


def with_webhooks(spec: ServiceSpec, store: MoneyJobStore, settings: WebhookSettings) -> ServiceSpec:
    """`spec` that also serves WebhookService on `store` (whose `indexes` include WebhookStore.INDEXES) and sends
    the events of its outbox as webhooks: an OutboxDispatcher fans them out into deliveries and a DeliveryWorker
    POSTs them, each under its lease (one of each across replicas), from the first moment the store answers
    until the service stops (before its other stop hooks, which close the store)."""
    webhooks = Webhooks(store, settings.secret_sealer)
    running: list[asyncio.Task[None]] = []

    async def send() -> None:
        # Start hooks run before the store opens, and the store may be down at start: wait until it answers.
        while not await store.ping():
            await asyncio.sleep(settings.webhook_poll_s)
        if not webhooks.sealer.sealing:
            _log.warning("WEBHOOK_SECRETS_KEY is unset: webhook endpoint secrets are stored unsealed")
        resealed = await webhooks.reseal()
        if resealed:
            _log.info("sealed the secrets of %d webhook endpoints under the current key", resealed)
        leases = store.leases(owner=f"{socket.gethostname()}:{os.getpid()}", ttl_s=LEASE_S)
        dispatcher = OutboxDispatcher(store.outbox, webhooks.fan_out, leases, poll_s=settings.webhook_poll_s)
        await asyncio.gather(dispatcher.run(), DeliveryWorker(webhooks, leases, settings).run())

    async def start(_health: object) -> None:
        running.append(asyncio.get_running_loop().create_task(send()))

    async def stop() -> None:
        for task in running:
            task.cancel()
        if running:
            # Bounded: on Python 3.11 a MongoDB call can swallow a cancellation (asyncio.wait_for's race in
            # pymongo's condition waits), and the stop must not hang on it; closing the store next ends a straggler.
            _, late = await asyncio.wait(running, timeout=STOP_S)
            if late:
                _log.warning("the webhook jobs did not stop within %g s; closing the store ends them", STOP_S)

    return dataclasses.replace(
        spec,
        services=[*spec.services, webhooks_registration(webhooks)],
        on_start=[*spec.on_start, start],
        on_stop=[stop, *spec.on_stop],
    )

"""The delivery worker: POSTs due deliveries to their endpoints, one worker at a time across replicas (a lease).

    worker = DeliveryWorker(webhooks, store.leases(owner=f"{host}:{pid}", ttl_s=30), settings)
    task = asyncio.create_task(worker.run())        # on every replica; cancel it at stop

Each attempt runs as its own task with its own timeout, and each endpoint has at most
`webhook_max_in_flight_per_endpoint` attempts running: an endpoint at its limit is left out of the next look for
due deliveries, so a receiver that hangs, fails or answers garbage holds only its own slots and never delays the
deliveries to other endpoints. Every attempt is recorded on its delivery (attempt, HTTP status, latency, error, the
next attempt's time); the record is conditional on the attempt count read, so two workers (a paused former lease
holder) never record the same attempt twice. A receiver may still get an attempt twice in that case, which the
spec provides for: it deduplicates on webhook-id.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Mapping
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from lucid_tron.errors import Unavailable
from lucid_tron.storage import Lease, LeaseLost, Leases, raise_if_cancelled, utc_now

from . import _metrics
from ._settings import WebhookSettings
from ._signing import signed_headers
from ._store import DEAD_LETTER, PENDING, SUCCEEDED
from ._sealing import SealingError
from ._webhooks import Webhooks

__all__ = ["DeliveryWorker", "backoff_s"]

#: How much of an answer is read: enough to see that it ended; a receiver's body is never used.
_MAX_ANSWER_BYTES = 64 * 1024
_log = logging.getLogger("lucid_tron.webhooks.delivery")
_jitter = random.Random()


def backoff_s(settings: WebhookSettings, failed_attempts: int) -> float:
    """The delay before the next attempt after `failed_attempts` failures: exponential with full jitter."""
    ceiling = min(settings.webhook_backoff_max_s, settings.webhook_backoff_base_s * 2 ** (failed_attempts - 1))
    return _jitter.uniform(0, ceiling)


class DeliveryWorker:
    """Delivers the due deliveries of `webhooks` while it holds the lease `lease_name` of `leases`."""

    def __init__(
        self,
        webhooks: Webhooks,
        leases: Leases,
        settings: WebhookSettings,
        *,
        lease_name: str = "webhook-delivery",
        batch_size: int = 100,
    ) -> None:
        self._webhooks = webhooks
        self._store = webhooks.store
        self._leases = leases
        self._settings = settings
        self._lease_name = lease_name
        self._batch_size = batch_size
        self._running: dict[str, asyncio.Task[None]] = {}
        self._per_endpoint: Counter[str] = Counter()

    async def run(self) -> None:
        """Deliver until cancelled: wait for the lease, deliver while holding it, wait again when it is lost.
        Cancelled, it stops its attempts in flight (they stay due) and releases the lease."""
        # No connection limit of aiohttp's own: the per-endpoint limit is the one that keeps endpoints apart.
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, trust_env=False) as http:
            while True:
                lease = await self._acquire()
                valid_until = time.monotonic() + self._leases.ttl_s
                try:
                    while time.monotonic() < valid_until:
                        await self._round(http)
                        await self._webhooks.wait_due(self._settings.webhook_poll_s)
                        raise_if_cancelled()
                        if time.monotonic() > valid_until - self._leases.ttl_s * 2 / 3:
                            requested_at = time.monotonic()
                            with suppress(Unavailable):  # tried again next round, until the lease runs out
                                lease = await self._leases.renew(lease)
                                valid_until = requested_at + self._leases.ttl_s
                except LeaseLost:
                    _log.warning("lease %r was taken over: this worker stops delivering", self._lease_name)
                except asyncio.CancelledError:
                    await self._stop_attempts()
                    with suppress(Unavailable):
                        await self._leases.release(lease)
                    raise
                await self._stop_attempts()

    async def _round(self, http: aiohttp.ClientSession) -> None:
        try:
            await self._deliver_due(http)
        except Unavailable:
            _log.warning("MongoDB is unavailable; deliveries wait", exc_info=True)
        except Exception:
            _log.exception("a delivery round failed; the next one tries again")

    async def _acquire(self) -> Lease:
        while True:
            try:
                lease = await self._leases.acquire(self._lease_name)
            except Unavailable:
                _log.warning("MongoDB is unavailable; deliveries wait", exc_info=True)
                lease = None
            if lease is not None:
                return lease
            await asyncio.sleep(self._settings.webhook_poll_s)

    async def _deliver_due(self, http: aiohttp.ClientSession) -> None:
        """Start an attempt for each due delivery whose endpoint has a free slot."""
        limit = self._settings.webhook_max_in_flight_per_endpoint
        endpoints = {endpoint["_id"]: endpoint for endpoint in await self._store.enabled_endpoints()}
        open_endpoints = [endpoint_id for endpoint_id in endpoints if self._per_endpoint[endpoint_id] < limit]
        due = await self._store.due_deliveries(open_endpoints, self._running.keys(), utc_now(), self._batch_size)
        for delivery in due:
            endpoint_id = delivery["endpoint_id"]
            if delivery["_id"] in self._running or self._per_endpoint[endpoint_id] >= limit:
                continue
            self._per_endpoint[endpoint_id] += 1
            task = asyncio.get_running_loop().create_task(self._attempt(http, endpoints[endpoint_id], delivery))
            self._running[delivery["_id"]] = task
            task.add_done_callback(lambda _, d=delivery: self._finished(d))

    def _finished(self, delivery: Mapping[str, Any]) -> None:
        self._running.pop(delivery["_id"], None)
        self._per_endpoint[delivery["endpoint_id"]] -= 1
        self._webhooks.wake()  # a slot is free: look for due deliveries now

    async def _stop_attempts(self) -> None:
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _attempt(self, http: aiohttp.ClientSession, endpoint: Mapping[str, Any], delivery: Mapping[str, Any]) -> None:
        try:
            await self._record(endpoint, delivery, *await self._post(http, endpoint, delivery))
        except Unavailable:
            _log.warning("could not record an attempt of %s; it is made again", delivery["_id"], exc_info=True)

    async def _post(
        self, http: aiohttp.ClientSession, endpoint: Mapping[str, Any], delivery: Mapping[str, Any]
    ) -> tuple[datetime, int, float, str]:
        """One POST: when it was sent, the HTTP status (0 without an answer), its latency in seconds, the error."""
        sent_at = utc_now()
        try:
            signing = self._webhooks.signing_secrets(endpoint, sent_at)
        except SealingError as failure:  # not sent unsigned: a failed attempt, retried (the key may be restored)
            return sent_at, 0, 0.0, str(failure)
        headers = signed_headers(delivery["event_id"], delivery["body"], signing, sent_at)
        timeout_s = self._settings.webhook_attempt_timeout_s
        started = time.monotonic()
        status, error = 0, ""
        try:
            async with asyncio.timeout(timeout_s):
                async with http.post(
                    endpoint["url"], data=delivery["body"].encode(), headers=headers, allow_redirects=False
                ) as answer:
                    status = answer.status
                    await answer.content.read(_MAX_ANSWER_BYTES)
        except TimeoutError:
            error = f"no complete answer within {timeout_s:g} s"
        except aiohttp.ClientError as failure:
            error = f"{type(failure).__name__}: {failure}"[:500]
        latency_s = time.monotonic() - started
        if not error and not 200 <= status < 300:
            error = f"HTTP {status}"
        return sent_at, status, latency_s, error

    async def _record(
        self, endpoint: Mapping[str, Any], delivery: Mapping[str, Any], sent_at: datetime, status: int,
        latency_s: float, error: str,
    ) -> None:
        attempt = delivery["attempt"] + 1
        now = utc_now()
        if not error:
            state, next_at = SUCCEEDED, None
        elif attempt >= self._settings.webhook_max_attempts:
            state, next_at = DEAD_LETTER, None
        else:
            state, next_at = PENDING, now + timedelta(seconds=backoff_s(self._settings, attempt))
        latency_ms = round(latency_s * 1000)
        changes: dict[str, Any] = {
            "state": state,
            "attempt": attempt,
            "http_status": status,
            "latency_ms": latency_ms,
            "next_attempt_at": next_at,
            "updated_at": now,
        }
        if error:
            changes["error"] = error  # the error of the last failed attempt stays after a success
        record = {"attempt": attempt, "sent_at": sent_at, "http_status": status, "latency_ms": latency_ms,
                  "error": error, "next_attempt_at": next_at}
        if not await self._store.record_attempt(delivery, changes, record):
            return
        if not error:
            _metrics.SUCCEEDED.inc()
            await self._store.reset_failures(endpoint["_id"])
            return
        (_metrics.DEAD_LETTERED if state == DEAD_LETTER else _metrics.RETRIED).inc()
        _log.info("delivery %s to %s failed (attempt %d): %s", delivery["_id"], endpoint["_id"], attempt, error)
        streak = await self._store.count_failure(endpoint["_id"])
        threshold = self._settings.webhook_disable_after_failures
        if streak >= threshold:
            reason = f"disabled after {streak} failed attempts in a row; the last: {error}"
            if await self._webhooks.disable(endpoint["_id"], reason[:500]):
                _metrics.ENDPOINTS_DISABLED.inc()
                _log.warning("webhook endpoint %s disabled: %s", endpoint["_id"], reason)

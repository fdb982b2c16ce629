"""grpc.health.v1 for a service process: one status for "" and every registered service, driven by dependencies.

A process is SERVING when it has started, is not shutting down, and none of its dependencies is reported down.
Each dependency (Tor, MongoDB, Redis, TronGrid...) gets its own `HealthReporter`, because one flag shared by
several watchers would let MongoDB coming back hide that Tor is still down. All registered services of a process
share their status: they share the process and its dependencies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import grpc
from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio

log = logging.getLogger("lucid_tron.mesh.health")

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class Health:
    """The health this process reports; services get `reporter(dependency)` from it in their on_start hooks."""

    def __init__(self, service_names: Sequence[str]) -> None:
        self._names = ("", *service_names)
        self._down: dict[str, str] = {}
        self._dependencies: set[str] = set()
        self._started = False
        self.servicer = _EndingHealthServicer(self._names)

    @property
    def serving(self) -> bool:
        """True when this process reports SERVING."""
        return self._started and not self._down and not self.servicer.shutting_down

    def reporter(self, dependency: str) -> HealthReporter:
        """The switch through which `dependency` (e.g. "tor", "mongodb") marks the process up or down."""
        self._dependencies.add(dependency)
        return HealthReporter(self, dependency)

    def dependencies(self) -> dict[str, bool]:
        """Every dependency a reporter was made for, and whether it is up (what the metrics export)."""
        return {dependency: dependency not in self._down for dependency in self._dependencies}

    async def mark_starting(self) -> None:
        """Report NOT_SERVING for every service until `mark_started`: no probe may see SERVING before the hooks ran."""
        await self._publish()

    async def mark_started(self) -> None:
        """Report SERVING (unless a dependency is down): the server accepts RPCs now."""
        self._started = True
        await self._publish()

    async def enter_graceful_shutdown(self) -> None:
        """Report NOT_SERVING for good, and end health Watch streams, so callers move away before the server stops."""
        await self.servicer.enter_graceful_shutdown()

    async def _publish(self) -> None:
        status = _SERVING if self.serving else _NOT_SERVING
        for name in self._names:
            await self.servicer.set(name, status)

    async def _report(self, dependency: str, serving: bool, reason: str) -> None:
        was_down = dependency in self._down
        if serving:
            self._down.pop(dependency, None)
            if was_down:
                log.info("dependency %s is back", dependency, extra={"dependency": dependency})
        else:
            self._down[dependency] = reason
            if not was_down:
                log.warning("dependency %s is down: %s", dependency, reason, extra={"dependency": dependency})
        await self._publish()


class HealthReporter:
    """Lets one dependency flip the process between SERVING and NOT_SERVING."""

    def __init__(self, health: Health, dependency: str) -> None:
        self._health = health
        self.dependency = dependency

    async def set_serving(self, serving: bool, reason: str = "") -> None:
        """Report this dependency up (`True`) or down (`False`, with a `reason` for the log)."""
        await self._health._report(self.dependency, serving, reason)


class _EndingHealthServicer(health_aio.HealthServicer):
    """grpcio-health-checking's servicer, whose Watch streams end once shutdown has been announced.

    Without this a client that watches health (gRPC client-side health checking keeps a Watch open for good) would
    hold the server for the whole grace period after it already knows the answer.
    """

    def __init__(self, known: Sequence[str]) -> None:
        super().__init__()
        self._known = frozenset(known)
        self._closing = asyncio.Event()

    @property
    def shutting_down(self) -> bool:
        return self._closing.is_set()

    async def enter_graceful_shutdown(self) -> None:
        await super().enter_graceful_shutdown()
        self._closing.set()

    async def Watch(  # noqa: N802 - the proto's name
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        sender = _StoppableSender(context)
        watching = asyncio.ensure_future(super().Watch(request, sender))
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            await asyncio.wait((watching, closing), return_when=asyncio.FIRST_COMPLETED)
            if not closing.done():
                watching.result()  # the watch ended by itself, which only an error does: let grpc report it
                return
            await sender.stop()
        finally:
            for task in (watching, closing):
                task.cancel()
            await asyncio.gather(watching, closing, return_exceptions=True)
        final = _NOT_SERVING if request.service in self._known else health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
        if sender.last_status != final:
            await context.write(health_pb2.HealthCheckResponse(status=final))


class _WatchStopped(Exception):
    """Raised into the library's Watch loop when it tries to send after the stream was stopped."""


class _StoppableSender:
    """The ServicerContext as the library's Watch sees it, with sends that stop cleanly.

    A send cancelled halfway leaves grpc unable to send anything else on the stream (TOO_MANY_OPERATIONS), so the
    watch is cancelled only between sends: `stop()` refuses new sends and waits for a running one to finish.
    """

    def __init__(self, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        self._context = context
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopped = False
        self.last_status: int | None = None

    async def write(self, response: health_pb2.HealthCheckResponse) -> None:
        if self._stopped:
            raise _WatchStopped
        self._idle.clear()
        try:
            await self._context.write(response)
            self.last_status = response.status
        finally:
            self._idle.set()

    async def stop(self) -> None:
        self._stopped = True
        await self._idle.wait()

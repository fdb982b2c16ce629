"""grpc.health.v1 for a service process: one status for "" and every registered service, driven by dependencies.

A process is SERVING when it has started, is not shutting down, and none of its hard dependencies is reported down.
Each dependency (Tor, MongoDB, Redis, TronGrid...) gets its own `HealthReporter`, because one flag shared by
several watchers would let MongoDB coming back hide that Tor is still down. All registered services of a process
share their status: they share the process and its dependencies.

A soft dependency is one the service can answer without (tron-relay's cache): it is reported under a
grpc.health.v1 service name of its own (`grpc_health_probe -service=redis`), and the process stays SERVING, so an
outage of something every instance shares does not take every instance out of rotation. `health.soft` hands out
those reporters (TorRuntime.start takes it as it takes `health`).

`await health.watch(reporter, probe, interval_s=...)` is the one dependency loop: it probes once before the port
opens, then every `interval_s` until shutdown begins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio


log = logging.getLogger("lucid_tron.mesh.health")

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

#: A dependency check: True when the dependency answers. It should not raise; one that does counts as down.
Probe = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class Dependency:
    """A dependency the runtime watches for a service (`ServiceSpec.dependencies`): `probe()` answers whether it is up,
    asked before the port opens and then every DEPENDENCY_CHECK_INTERVAL_S until shutdown. A hard one takes the
    process NOT_SERVING while down (there is nothing it could answer without it: MongoDB for a money service); a soft
    one is reported under its own grpc.health.v1 service name `name` and the process stays SERVING (a cache).
    `open`, when given, runs once before the first probe (a store creating its client and its indexes); it must not
    fail because the dependency is down, which the probe reports."""

    name: str
    probe: Probe
    soft: bool = False
    open: Callable[[], Awaitable[None]] | None = None


class Health:
    """The health this process reports; services get `reporter(dependency)` from it in their on_start hooks."""

    def __init__(self, service_names: Sequence[str]) -> None:
        self._names = ("", *service_names)
        # Every dependency that reported, hard or soft, and whether it is up (what the metrics export).
        self._reported: dict[str, bool] = {}
        # The hard dependencies that are down: only they decide the process's status.
        self._down: set[str] = set()
        self._started = False
        self._watches: list[asyncio.Task[None]] = []
        self._stopping = False
        self.servicer = _EndingHealthServicer(self._names)
        self.soft = SoftDependencies(self)

    @property
    def serving(self) -> bool:
        """True when this process reports SERVING."""
        return self._started and not self._down and not self.servicer.shutting_down

    def reporter(self, dependency: str) -> HealthReporter:
        """The switch through which the hard dependency `dependency` (e.g. "tor", "mongodb") marks the process up
        or down."""
        return self._reporter(dependency, soft=False)

    async def watch(self, reporter: HealthReporter, probe: Probe, *, interval_s: float) -> None:
        """Report `probe()` through `reporter` now, then every `interval_s` until shutdown begins.

        `reporter` may have been made before the process had a Health (`HealthReporter("redis", soft=True)`, handed
        to a store that reports what it notices between probes): it reports here from now on, starting with the
        probe's answer (what it was told before has nowhere to go and is older).
        """
        if reporter._health is None:
            reporter._health = self
        await reporter.set_serving(*await _checked(probe))
        self._watches.append(
            asyncio.create_task(self._keep_watching(reporter, probe, interval_s), name=f"health-{reporter.dependency}")
        )

    def dependencies(self) -> dict[str, bool]:
        """Every dependency that has reported, hard or soft, and whether it is up (what the metrics export)."""
        return dict(self._reported)

    async def mark_starting(self) -> None:
        """Report NOT_SERVING for every service until `mark_started`: no probe may see SERVING before the hooks ran."""
        await self._publish()

    async def mark_started(self) -> None:
        """Report SERVING (unless a dependency is down): the server accepts RPCs now."""
        self._started = True
        await self._publish()

    async def enter_graceful_shutdown(self) -> None:
        """Report NOT_SERVING for good, and end health Watch streams, so callers move away before the server stops.

        The watchers stop first: none may report anything once shutdown began, nor probe a client about to close.
        """
        self._stopping = True
        watches, self._watches = self._watches, []
        for task in watches:
            task.cancel()
        for task in watches:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.servicer.enter_graceful_shutdown()

    def _reporter(self, dependency: str, *, soft: bool) -> HealthReporter:
        reporter = HealthReporter(dependency, soft=soft)
        reporter._health = self
        return reporter

    async def _keep_watching(self, reporter: HealthReporter, probe: Probe, interval_s: float) -> None:
        # The flag as well as the cancellation: a probe can swallow the CancelledError (a client library that catches
        # it, as wallet-manager's tests saw of a MongoDB ping), and the loop must end then too, or shutdown waits for good.
        while not self._stopping:
            await asyncio.sleep(interval_s)
            serving, reason = await _checked(probe)
            if self._stopping:
                return
            await reporter.set_serving(serving, reason)

    async def _publish(self) -> None:
        status = _SERVING if self.serving else _NOT_SERVING
        for name in self._names:
            await self.servicer.set(name, status)

    async def _report(self, reporter: HealthReporter, serving: bool, reason: str) -> None:
        dependency = reporter.dependency
        was_down = self._reported.get(dependency) is False
        self._reported[dependency] = serving
        if not reporter.soft:
            if serving:
                self._down.discard(dependency)
            else:
                self._down.add(dependency)
        if serving:
            if was_down:
                log.info("dependency %s is back", dependency, extra={"dependency": dependency})
        else:
            if not was_down:
                log.warning("dependency %s is down: %s", dependency, reason, extra={"dependency": dependency})
        if reporter.soft:
            self.servicer.known(dependency)
            await self.servicer.set(dependency, _SERVING if serving else _NOT_SERVING)
        else:
            await self._publish()


class SoftDependencies:
    """`health.soft`: hands out reporters of soft dependencies, each under its own grpc.health.v1 service name."""

    def __init__(self, health: Health) -> None:
        self._health = health

    def reporter(self, dependency: str) -> HealthReporter:
        """The switch of the soft dependency `dependency`, reported as the health service of that name."""
        return self._health._reporter(dependency, soft=True)


class HealthReporter:
    """Lets one dependency report itself up or down: the whole process for a hard one, its own name for a soft one.

    Made by `health.reporter(name)` or `health.soft.reporter(name)`; or made before the process has a Health, as
    `HealthReporter(name, soft=...)`, and attached by `health.watch`: until then its reports go nowhere.
    """

    def __init__(self, dependency: str, *, soft: bool = False) -> None:
        self.dependency = dependency
        self.soft = soft
        self._health: Health | None = None

    async def set_serving(self, serving: bool, reason: str = "") -> None:
        """Report this dependency up (`True`) or down (`False`, with a `reason` for the log)."""
        if self._health is not None:
            await self._health._report(self, serving, reason)


async def _checked(probe: Probe) -> tuple[bool, str]:
    try:
        return (True, "") if await probe() else (False, "the check failed")
    except Exception as error:  # a probe is meant not to raise: its failure is the dependency's, not the process's
        log.exception("health probe %r raised", probe)
        return False, f"the check raised {type(error).__name__}"


class _EndingHealthServicer(health_aio.HealthServicer):
    """grpcio-health-checking's servicer, whose Watch streams end once shutdown has been announced.

    Without this a client that watches health (gRPC client-side health checking keeps a Watch open for good) would
    hold the server for the whole grace period after it already knows the answer.
    """

    def __init__(self, known: Sequence[str]) -> None:
        super().__init__()
        self._known = set(known)
        self._closing = asyncio.Event()

    def known(self, name: str) -> None:
        """Count `name` (a soft dependency's) among the services a Watch ends with NOT_SERVING at shutdown."""
        self._known.add(name)

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

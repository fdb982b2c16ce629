"""A service declares itself as a ServiceSpec; `serving` turns it into a running grpc.aio server.

Every server gets the same furniture: mutual TLS (or plaintext when GRPC_INSECURE_PLAINTEXT, see _transport),
grpc.health.v1 for "" and each service (also alone on the plaintext HEALTH_PORT when set), server reflection
(grpcurl and buf curl work without proto files), request id + deadline scope (CALL_TIMEOUT_S when the caller sets no
deadline), the ACL check (`_acl`: ACL_POLICY_FILE, watched for changes, else the shipped policy), metrics when
METRICS_PORT is set, tracing when configured, and the error mapping. All of it is one wrapper put
around each handler once, when it is registered (`RuntimeServer`); the grpc.aio server runs no interceptor.
Start order: on_start hooks, then the port opens, then SERVING. Stop order: NOT_SERVING, stop accepting and give
in-flight RPCs the grace period, then on_stop hooks (close database clients only when no RPC can use them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from lucid_tron.authz import MESH_POLICY, PolicyError, PolicySource
from lucid_tron.config import ConfigError, Problem
from lucid_tron.mesh._acl import AclGate
from lucid_tron.mesh._service_settings import ServiceSettings
from lucid_tron.mesh._handlers import Runtime, RuntimeServer
from lucid_tron.mesh._health import Dependency, Health
from lucid_tron.mesh._tracing import Spans, start_tracing, stop_tracing
from lucid_tron.mesh._transport import health_server, open_service_port

if TYPE_CHECKING:
    from lucid_tron.mesh._metrics import MetricsEndpoint, RpcMetrics

log = logging.getLogger("lucid_tron.mesh.server")

StartHook = Callable[[Health], Awaitable[None]]
StopHook = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Registration:
    """One gRPC service of the process: the generated `add_XServicer_to_server`, the servicer, its full name.

    `name` is the proto's full service name ("lucid.tron.v1.TronClientService"): health and reflection use it.
    """

    add_to_server: Callable[[Any, grpc.aio.Server], None]
    servicer: Any
    name: str


@dataclass(frozen=True, kw_only=True)
class ServiceSpec:
    """What a service is: its name (logs, traces), its gRPC services, and what to do at start and stop.

    `on_start` hooks run in order before the port opens and receive the process Health, from which a dependency
    watcher takes its `reporter("tor")`. Then each of `dependencies` is probed once and watched every
    DEPENDENCY_CHECK_INTERVAL_S until shutdown (`Dependency`: hard ones decide SERVING, soft ones report under their
    own name). `on_stop` hooks run in order after the server stopped, even when a start hook failed, so each must cope
    with its resource never having been opened.

    `shipped_policy`: the ACL policy shipped in `lucid_tron.authz` that applies when ACL_POLICY_FILE is unset.
    """

    name: str
    services: Sequence[Registration]
    on_start: Sequence[StartHook] = ()
    dependencies: Sequence[Dependency] = ()
    on_stop: Sequence[StopHook] = ()
    shipped_policy: str = MESH_POLICY


class MeshServer:
    """A running service: where it listens (gRPC, and metrics when on), its Health, and `shutdown()`."""

    def __init__(self, spec: ServiceSpec, settings: ServiceSettings, health: Health, tracing: Spans | None) -> None:
        self.spec = spec
        self.health = health
        self._settings = settings
        self._tracing = tracing
        self.metrics: RpcMetrics | None = None
        if settings.metrics_port is not None:
            from lucid_tron.mesh._metrics import RpcMetrics

            self.metrics = RpcMetrics(health)
        self._metrics_endpoint: MetricsEndpoint | None = None
        self.acl = AclGate(_policy_source(settings, spec.shipped_policy), dry_run=settings.acl_dry_run)
        if self.metrics is not None:
            self.metrics.count_acl(self.acl.source.counts)
        self._acl_watch: asyncio.Task[None] | None = None
        runtime = Runtime(
            call_timeout_s=settings.call_timeout_s, metrics=self.metrics, spans=tracing, acl=self.acl
        )
        # No interceptor: grpc.aio then finds a call's handler with one dict lookup, and awaits nothing before the
        # (already wrapped) handler runs.
        # so_reuseport off: a second process on the same port must fail to start, not silently share the traffic.
        self.grpc_server: grpc.aio.Server = RuntimeServer(
            grpc.aio.server(options=[("grpc.so_reuseport", 0)]), runtime
        )
        self.port = 0
        self.health_port: int | None = None
        self._health_server: grpc.aio.Server | None = None
        self._shutdown: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        """Where a client on this host reaches the server, e.g. "127.0.0.1:50051"."""
        return f"{_client_host(self._settings.host)}:{self.port}"

    @property
    def health_address(self) -> str | None:
        """Where the plaintext health port is ("127.0.0.1:50052"), None when HEALTH_PORT is unset."""
        if self.health_port is None:
            return None
        return f"{_client_host(self._settings.host)}:{self.health_port}"

    def _open_health_port(self) -> None:
        opened = health_server(self.health, self._settings)
        if opened is not None:
            self._health_server, self.health_port = opened

    @property
    def metrics_address(self) -> str | None:
        """Where Prometheus scrapes this server ("127.0.0.1:9464", path /metrics), None when metrics are off."""
        if self._metrics_endpoint is None:
            return None
        return f"{_client_host(self._settings.metrics_bind_host)}:{self._metrics_endpoint.port}"

    def _start_metrics(self) -> None:
        if self.metrics is not None and self._settings.metrics_port is not None:
            from lucid_tron.mesh._metrics import MetricsEndpoint

            self._metrics_endpoint = MetricsEndpoint(
                self.metrics, self._settings.metrics_bind_host, self._settings.metrics_port
            )

    async def shutdown(self) -> None:
        """NOT_SERVING, stop with the grace period, then the on_stop hooks. Safe to call more than once."""
        if self._shutdown is None:
            self._shutdown = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._shutdown)

    async def _stop(self) -> None:
        grace = self._settings.shutdown_grace_s
        log.info("shutting down: NOT_SERVING, then up to %.1f s for in-flight RPCs", grace)
        await self.health.enter_graceful_shutdown()
        await self.grpc_server.stop(grace)
        if self._health_server is not None:
            await self._health_server.stop(None)
        if self._acl_watch is not None:
            self._acl_watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._acl_watch
        await _run_stop_hooks(self.spec)
        if self._metrics_endpoint is not None:
            await asyncio.to_thread(self._metrics_endpoint.close)
        if self._tracing is not None:
            await asyncio.to_thread(stop_tracing, self._tracing)
        log.info("stopped")


@asynccontextmanager
async def serving(spec: ServiceSpec, settings: ServiceSettings) -> AsyncIterator[MeshServer]:
    """Run `spec` until the block exits, then shut it down gracefully.

    In tests, `ServiceSettings(port=0, ...)` listens on a free loopback port: connect to `server.address`. TLS is on
    unless `insecure_plaintext=True`: give it certificate files (TLS_CERT_FILE...), or ConfigError names them.
    """
    names = [registration.name for registration in spec.services]
    health_of_process = Health(names)
    tracing = start_tracing(spec.name, settings.otel_endpoint, settings.otel_sample_ratio)
    server = MeshServer(spec, settings, health_of_process, tracing)
    try:
        for registration in spec.services:
            registration.add_to_server(registration.servicer, server.grpc_server)
        health_pb2_grpc.add_HealthServicer_to_server(health_of_process.servicer, server.grpc_server)
        reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server.grpc_server)
        server.port = open_service_port(server.grpc_server, settings)
        server._open_health_port()
        _start_acl(server, settings)
        server._start_metrics()
        await health_of_process.mark_starting()
        for hook in spec.on_start:
            await hook(health_of_process)
        for dependency in spec.dependencies:
            if dependency.open is not None:
                await dependency.open()
            reporters = health_of_process.soft if dependency.soft else health_of_process
            await health_of_process.watch(
                reporters.reporter(dependency.name), dependency.probe, interval_s=settings.dependency_check_interval_s
            )
        if server._health_server is not None:
            await server._health_server.start()
        await server.grpc_server.start()
        await health_of_process.mark_started()
    except BaseException:
        await server.shutdown()
        raise
    log.info(
        "serving %s on %s",
        ", ".join(names) or "health only",
        server.address,
        extra={
            "address": server.address,
            "health_address": server.health_address,
            "metrics_address": server.metrics_address,
            "tls": settings.tls_files is not None,
        },
    )
    try:
        yield server
    finally:
        await server.shutdown()


def _policy_source(settings: ServiceSettings, shipped: str) -> PolicySource:
    path = None if settings.acl_policy_file is None else Path(settings.acl_policy_file)
    try:
        return PolicySource(path, shipped)
    except (OSError, PolicyError) as error:
        # At start there is no last good policy to keep: the process does not serve without one.
        raise ConfigError([Problem("ACL_POLICY_FILE", f"{settings.acl_policy_file}: {error}")]) from None


def _start_acl(server: MeshServer, settings: ServiceSettings) -> None:
    acl = server.acl
    policy = acl.source.current.name
    if not acl.enforcing:
        log.warning(
            "ACL policy %r is NOT enforced: plaintext mode, callers have no identity to check",
            policy,
            extra={"authz_policy": policy},
        )
    else:
        log.info(
            "ACL policy %r from %s%s",
            policy,
            acl.source.origin,
            " in dry run (denies nothing)" if acl.dry_run else "",
            extra={"authz_policy": policy, "acl_dry_run": acl.dry_run},
        )
    if acl.source.path is not None:
        server._acl_watch = asyncio.ensure_future(acl.source.watch(settings.acl_reload_interval_s))


async def _run_stop_hooks(spec: ServiceSpec) -> None:
    # Every hook runs even if one fails: a failing Redis close must not leave the MongoDB client open.
    for hook in spec.on_stop:
        try:
            await hook()
        except Exception:
            log.exception("on_stop hook %r failed", hook)


def _client_host(host: str) -> str:
    """The host a client on this machine uses to reach a server listening on `host` (wildcards -> loopback)."""
    if host in ("0.0.0.0", "::", "[::]"):
        return "127.0.0.1"
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host

"""`TorRuntime`: everything a TronGrid-facing service needs from Tor, built from one `TorConfig`.

    tor = TorRuntime(tor_config)                      # or TorRuntime.from_env(); Tor off only when explicit (WARNING)
    trongrid = TronGridClient(url, tor.proxy, ...)    # every request through Tor, per-purpose circuits
    ServiceSpec(..., on_start=[tor.start], on_stop=[tor.close])   # "tor" in grpc health, rotation, fail fast

`start(health)` takes the mesh's `Health` (anything with `reporter(name).set_serving(serving, reason)`), runs the first
health check before the service opens its port, then keeps the monitor and the NEWNYM schedule running. Outside a
service: `async with TorRuntime(config) as tor: ...`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

import aiohttp

from ._config import TorConfig
from ._monitor import TorHealthMonitor
from ._proxy import TorProxy
from ._stats import TorStats

if TYPE_CHECKING:
    from ._control import TorController

__all__ = ["TorRuntime"]

_log = logging.getLogger("tor_proxy")


class _Reporter(Protocol):
    def set_serving(self, serving: bool, reason: str = "") -> Awaitable[None]: ...


class _Health(Protocol):
    def reporter(self, dependency: str) -> _Reporter: ...


class TorRuntime:
    """`proxy` (sessions), `controller` (None when Tor is off or not configured), `monitor`, `stats`.

    Also a session provider itself (`session(purpose)`), so it can be handed to TronGridClient directly.
    """

    def __init__(
        self,
        config: TorConfig,
        *,
        probe_url: str | None = None,
        health_dependency: str = "tor",
        control_timeout_s: float = 5.0,
        max_sessions: int = 256,
        session_idle_s: float = 600.0,
    ) -> None:
        self.config = config
        self.stats = TorStats()
        self.proxy = TorProxy(config, max_sessions=max_sessions, session_idle_s=session_idle_s, stats=self.stats)
        self.controller: TorController | None = None
        if not config.direct and config.socks_host is not None:
            # stem and what it imports (~3 MiB resident) load only in a process that talks to the control port.
            from ._control import TorController

            self.controller = TorController(config, proxy=self.proxy, stats=self.stats, timeout_s=control_timeout_s)
        self.monitor = TorHealthMonitor(config, self.proxy, self.controller, probe_url=probe_url, stats=self.stats)
        self._health_dependency = health_dependency
        self._rotation: asyncio.Task[None] | None = None
        self._started = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: object) -> TorRuntime:
        """A runtime configured by `TorConfig.from_env(environ)`; raises ConfigError naming every variable to fix."""
        return cls(TorConfig.from_env(environ), **options)  # type: ignore[arg-type]

    def session(self, purpose: str) -> aiohttp.ClientSession:
        return self.proxy.session(purpose)

    async def start(self, health: _Health | None = None) -> None:
        """Report to `health` as dependency "tor", check Tor once, then keep monitoring and rotating."""
        if self._started:
            raise RuntimeError("TorRuntime already started")
        self._started = True
        if health is not None:
            self.monitor.add_listener(health.reporter(self._health_dependency).set_serving)
        _log.info("Tor runtime: %s", _describe(self.config))
        await self.monitor.start()
        if self.controller is not None and self.config.circuit_rotation_enabled:
            self._rotation = asyncio.get_running_loop().create_task(
                self.controller.rotate_every(self.config.circuit_rotation_interval_s), name="tor-rotation"
            )

    async def close(self) -> None:
        """Stop rotating and monitoring, close the control connection and every session. Safe to call twice."""
        rotation, self._rotation = self._rotation, None
        if rotation is not None:
            rotation.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rotation
        await self.monitor.close()
        if self.controller is not None:
            await self.controller.close()
        await self.proxy.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


def _describe(config: TorConfig) -> str:
    if config.direct:
        return "OFF (direct mode): no Tor health checks, no rotation"
    if config.socks_host is None:
        return "no SOCKS endpoint configured: every request fails (ProxyNotConfigured)"
    if config.control_password is not None:
        auth = "password"
    elif config.control_cookie_path is not None:
        auth = f"cookie {config.control_cookie_path}"
    else:
        auth = "cookie where tor says (or none if tor allows)"
    rotation = f"every {config.circuit_rotation_interval_s:g} s" if config.circuit_rotation_enabled else "off"
    return (
        f"SOCKS {config.proxy_url} (remote DNS), control port {config.socks_host}:{config.control_port} ({auth}), "
        f"NEWNYM {rotation}, health every {config.health_check_interval_s:g} s, "
        f"max latency {config.max_latency_ms} ms, connect/read limit {config.connectivity_timeout_s:g} s"
    )

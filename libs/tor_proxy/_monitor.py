"""`TorHealthMonitor`: is Tor usable now? Checks it periodically and on events, tells health and the proxy.

A check, in order (the first failure is the reason):
  1. the SOCKS port answers a SOCKS5 greeting                       (else: Tor is down, hung, or not SOCKS5)
  2. the control port accepts us                                    (else: unreachable, or authentication fails)
  3. tor is 100% bootstrapped                                       (else: "bootstrapping 45% (...)")
  4. the configured SOCKS port is one of tor's SocksPorts, isolating by SOCKS credentials
                                                                    (else: the port is not this Tor's)
  5. tor has a usable circuit (status/circuit-established)           (else: "no usable circuit"; it waits and rechecks)
  6. optionally, a GET of `probe_url` through Tor answers            (its latency feeds TOR_MAX_LATENCY_MS rotation)

Not SERVING on any failure. While Tor is known to be unusable (1, 3, 4, 5, or 6 failing at the SOCKS port) the proxy
refuses new connections at once (`TorProxy.set_unavailable`), so calls fail fast with ProxyUnavailable instead of
waiting for their deadline.

A control-port failure (2) refuses requests too unless the SOCKS port was already shown to be this Tor's (4) over a
control connection that has not dropped since, and the SOCKS port has answered ever since: without that, the SOCKS
port might be any SOCKS5 proxy (a port mix-up, a swapped container), which would connect directly. Once shown, a
control port that stops answering (tor busy, a wrong password after a secret rotation) leaves requests alone: they only
use the SOCKS port; health still says NOT_SERVING, because rotation and status are blind without the control port.

Checks run every TOR_HEALTH_CHECK_INTERVAL while serving, every `down_recheck_s` (1 s) while Tor is down or not ready
(so recovery is seen within a second), with a doubling delay up to the interval while tor refuses our authentication (a
wrong password does not fix itself; tor need not log a failed login every second), and at once when the control
connection drops, tor reports a bootstrap or circuit change, or a request fails at the SOCKS port. Nothing here raises
into the service: a failing Tor is a state, reported and rechecked, never a crash.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._config import TorConfig
from ._proxy import TorProxy
from ._stats import TorStats
from ._exceptions import (
    ControlAuthFailed,
    DestinationUnreachable,
    ProxyNotConfigured,
    TorControlError,
    TorProxyError,
)

if TYPE_CHECKING:  # the controller (stem) is loaded only when Tor is used: see TorRuntime
    from ._control import SocksListener, TorController

__all__ = ["HealthCallback", "TorHealthMonitor", "TorStatus"]

_log = logging.getLogger("tor_proxy.health")

#: `on_change(serving, reason)`, plain or async: e.g. `Health.reporter("tor").set_serving` of lucid_tron.mesh.
HealthCallback = Callable[[bool, str], "Awaitable[None] | None"]

# Checks never come closer together than this, however many events ask for one.
_MIN_SPACING_S = 0.1


@dataclass(frozen=True)
class TorStatus:
    """The result of one check."""

    serving: bool
    reason: str
    #: True when requests are refused before any socket (Tor is known to be unusable).
    refusing_requests: bool = False
    #: tor's bootstrap percentage, when the control port told it.
    bootstrap_progress: int | None = None
    #: Milliseconds of the SOCKS greeting, and of the `probe_url` GET when there is one.
    socks_latency_ms: float | None = None
    probe_latency_ms: float | None = None
    #: When the check finished (time.monotonic()).
    checked_at: float = 0.0


class TorHealthMonitor:
    """Watches Tor for a process; see the module doc. `start()` runs a first check before it returns."""

    def __init__(
        self,
        config: TorConfig,
        proxy: TorProxy,
        controller: TorController | None = None,
        *,
        on_change: HealthCallback | None = None,
        probe_url: str | None = None,
        down_recheck_s: float = 1.0,
        probe_timeout_s: float = 5.0,
        stats: TorStats | None = None,
    ) -> None:
        if controller is None and not config.direct and config.socks_host is not None:
            raise ValueError("a TorHealthMonitor needs the TorController when Tor is used")
        self._config = config
        self._proxy = proxy
        self._controller = controller
        self._probe_url = probe_url
        self._down_recheck_s = min(down_recheck_s, config.health_check_interval_s)
        self._probe_timeout_s = min(probe_timeout_s, config.connectivity_timeout_s)
        self.stats = stats if stats is not None else proxy.stats
        self._listeners: list[HealthCallback] = [on_change] if on_change is not None else []
        self._status: TorStatus | None = None
        # The SOCKS port was shown to be one of tor's isolating SocksPorts, and nothing since suggests another one.
        self._socks_port_is_tors = False
        # The last check failed because tor refused our password or cookie.
        self._auth_refused = False
        self._published: tuple[bool, str] | None = None
        self._wake = asyncio.Event()
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._check_lock = asyncio.Lock()
        proxy.add_failure_listener(lambda error: self.check_soon())
        if controller is not None:
            controller.add_change_listener(self._on_tor_change)

    def add_listener(self, on_change: HealthCallback) -> None:
        """Also call `on_change(serving, reason)` whenever serving flips; one added before `start()` also hears
        the first check's result."""
        self._listeners.append(on_change)

    @property
    def status(self) -> TorStatus | None:
        """The last check's result (None before the first)."""
        return self._status

    @property
    def serving(self) -> bool:
        return self._status is not None and self._status.serving

    # -- running ------------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Check once (so health is right before the service opens its port), then keep checking in a task."""
        if self._task is not None:
            return
        await self.check()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="tor-health-monitor")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    def check_soon(self) -> None:
        """Run a check now rather than at the next interval (coalesced)."""
        self._wake.set()

    def _on_tor_change(self, what: str) -> None:
        if what == "closed":
            # Whatever answers next on these ports has to show again that it is Tor.
            self._socks_port_is_tors = False
        self.check_soon()

    async def wait_for(self, serving: bool, timeout_s: float) -> TorStatus:
        """Wait until a check finds `serving`; TimeoutError after `timeout_s`."""
        async with asyncio.timeout(timeout_s):
            async with self._changed:
                await self._changed.wait_for(lambda: self._status is not None and self._status.serving == serving)
                assert self._status is not None
                return self._status

    def _next_check_in_s(self, auth_failures: int) -> float:
        """The interval while serving; 1, 2, 4 ... s (up to the interval) while tor refuses our authentication;
        1 s while Tor is otherwise unusable."""
        status = self._status
        interval = self._config.health_check_interval_s
        if status is None or status.serving:
            return interval
        if auth_failures:
            return min(interval, self._down_recheck_s * 2 ** min(auth_failures - 1, 16))
        return self._down_recheck_s

    async def _run(self) -> None:
        last = time.monotonic()
        auth_failures = 0  # checks in a row that tor refused our authentication
        while True:
            auth_failures = auth_failures + 1 if self._auth_refused else 0
            interval = self._next_check_in_s(auth_failures)
            try:
                async with asyncio.timeout(interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            # Cleared before the check: an event during it asks for another one.
            self._wake.clear()
            await asyncio.sleep(max(0.0, last + _MIN_SPACING_S - time.monotonic()))
            try:
                await self.check()
            except Exception:
                # A bug here must not end the watch (or the service); the next round tries again.
                _log.exception("Tor health check failed unexpectedly")
            last = time.monotonic()

    # -- one check ------------------------------------------------------------------------------------------------

    async def check(self) -> TorStatus:
        """Check Tor now, publish the result (health callbacks, the proxy's gate) and return it."""
        async with self._check_lock:
            status = await self._check()
            self.stats.health_checks += 1
            if not status.serving:
                self.stats.health_failures += 1
            await self._publish(status)
            return status

    async def _check(self) -> TorStatus:
        self._auth_refused = False
        config = self._config
        if config.direct:
            return self._result(True, "Tor is off (USE_TOR_FOR_EXTERNAL_CALLS=false): direct connections, devnet only")
        if config.socks_host is None:
            return self._result(
                False, "no Tor SOCKS endpoint is configured (TOR_PROXY / TOR_PROXY_HOST)", refusing=True
            )
        controller = self._controller
        assert controller is not None
        try:
            probe = await self._proxy.probe(timeout_s=self._probe_timeout_s)
        except TorProxyError as exc:
            self._socks_port_is_tors = False
            return self._result(False, f"Tor is down: {exc}", refusing=True)
        self.stats.last_probe_latency_ms = probe.latency_ms
        socks_ms = probe.latency_ms
        try:
            bootstrap = await controller.bootstrap()
            if not bootstrap.done:
                return self._result(
                    False, f"Tor is bootstrapping: {bootstrap.describe()}", refusing=True,
                    progress=bootstrap.progress, socks_ms=socks_ms,
                )  # fmt: skip
            listeners = await controller.socks_listeners()
            mismatch = _socks_port_problem(config, listeners)
            self._socks_port_is_tors = mismatch is None
            if mismatch is not None:
                return self._result(False, mismatch, refusing=True, progress=100, socks_ms=socks_ms)
            if not await controller.circuit_established():
                return self._result(
                    False, "Tor has no usable circuit (status/circuit-established=0); waiting for it",
                    refusing=True, progress=100, socks_ms=socks_ms,
                )  # fmt: skip
        except TorControlError as exc:
            self._auth_refused = isinstance(exc, ControlAuthFailed)
            if self._socks_port_is_tors:
                return self._result(False, f"Tor control port: {exc}", socks_ms=socks_ms)
            return self._result(
                False, f"Tor control port: {exc}; the SOCKS port is not shown to be Tor's, so requests are refused",
                refusing=True, socks_ms=socks_ms,
            )  # fmt: skip
        probe_ms: float | None = None
        if self._probe_url is not None:
            try:
                result = await self._proxy.check_connectivity(
                    self._probe_url, purpose="health-check", timeout_s=config.connectivity_timeout_s
                )
                probe_ms = result.latency_ms
            except (DestinationUnreachable, ProxyNotConfigured) as exc:
                # Tor works; the destination does not. That is the destination's health, not Tor's.
                _log.info("Tor health probe of %s: %s", self._probe_url, exc)
            except TorProxyError as exc:
                return self._result(False, f"Tor is not usable: {exc}", refusing=True, progress=100, socks_ms=socks_ms)
        return self._result(
            True, "Tor is bootstrapped and has circuits", progress=100, socks_ms=socks_ms, probe_ms=probe_ms
        )

    def _result(
        self,
        serving: bool,
        reason: str,
        *,
        refusing: bool = False,
        progress: int | None = None,
        socks_ms: float | None = None,
        probe_ms: float | None = None,
    ) -> TorStatus:
        return TorStatus(
            serving=serving,
            reason=reason,
            refusing_requests=refusing,
            bootstrap_progress=progress,
            socks_latency_ms=socks_ms,
            probe_latency_ms=probe_ms,
            checked_at=time.monotonic(),
        )

    async def _publish(self, status: TorStatus) -> None:
        if status.refusing_requests:
            self._proxy.set_unavailable(status.reason, retry_after_s=self._down_recheck_s)
        else:
            self._proxy.set_available()
        previous = self._status
        self._status = status
        async with self._changed:
            self._changed.notify_all()
        if previous is None or previous.serving != status.serving:
            if status.serving:
                _log.info("Tor is usable: %s", status.reason)
            else:
                _log.warning("Tor is NOT usable: %s", status.reason)
        elif not status.serving and previous.reason != status.reason:
            _log.info("Tor still not usable: %s", status.reason)
        if self._published is None or self._published[0] != status.serving:
            self._published = (status.serving, status.reason)
            await self._tell(status.serving, status.reason)

    async def _tell(self, serving: bool, reason: str) -> None:
        for listener in list(self._listeners):
            try:
                outcome = listener(serving, reason)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:
                _log.exception("a Tor health listener failed")


def _socks_port_problem(config: TorConfig, listeners: list[SocksListener]) -> str | None:
    """Why the configured SOCKS port cannot be trusted to be this Tor's isolating SocksPort, or None."""
    ports = [listener for listener in listeners if listener.port == config.socks_port]
    if not ports:
        found = ", ".join(f"{listener.address}:{listener.port}" for listener in listeners) or "none"
        return (
            f"the SOCKS port {config.socks_host}:{config.socks_port} is not one of this Tor's SocksPorts "
            f"(tor listens on {found}): requests might go to something that is not Tor"
        )
    if not all(listener.isolates_socks_auth for listener in ports):
        return (
            f"Tor's SocksPort {config.socks_port} has NoIsolateSOCKSAuth: purposes would share circuits; "
            "remove that flag (IsolateSOCKSAuth is tor's default)"
        )
    return None

"""`TorController`: Tor's control port from asyncio (stem): authentication, bootstrap and circuit status, NEWNYM.

stem is synchronous and threaded. Every stem call runs in a worker thread of the controller's own small pool (stem can
never starve the loop's default executor) under a time limit; when the limit passes, the connection's socket is shut
down, which wakes the stuck thread, and the caller gets `ControlPortUnavailable` instead of a hang. stem delivers
events (SIGNAL, STATUS_CLIENT) and "connection closed" on its own threads; they are handed to the event loop with
`call_soon_threadsafe` and handled there.

Rotation. NEWNYM makes tor stop putting new streams on circuits that already carried traffic; streams that are open
stay where they are. aiohttp keeps idle connections (keep-alive), each an open stream, so after a NEWNYM the next
request would still leave through the old circuit. Hence, on every NEWNYM tor performs (ours, or another controller's
on the same tor), `TorProxy.new_circuits()` moves every purpose to new SOCKS credentials: new sessions, new
connections, and with IsolateSOCKSAuth necessarily new circuits. Old sessions finish their running requests and are
closed (see TorProxy).

Tor performs at most one NEWNYM per 10 s and defers one that comes sooner (answering 250 OK all the same). `rotate()`
waits out the limit it can see (its own last NEWNYM, and the last one tor announced with a SIGNAL event), or raises
`NewnymRateLimited` when asked not to wait, then confirms the NEWNYM by tor's SIGNAL event.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import socket
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import stem
import stem.connection
import stem.control
import stem.response.events
import stem.socket
from stem.connection import AuthMethod
from stem.control import EventType, Signal, State

from ._config import NEWNYM_MIN_INTERVAL_S, TorConfig
from ._stats import TorStats
from ._exceptions import ControlAuthFailed, ControlPortUnavailable, NewnymRateLimited, TorControlError

__all__ = ["BootstrapStatus", "CircuitInfo", "Rotation", "SocksListener", "TorController"]

_log = logging.getLogger("tor_proxy.control")
# stem sets its logger to TRACE when imported, so every GETINFO (DEBUG) and, when tor dies, hundreds of "SocketClosed"
# lines (INFO) would reach the service's log handlers. Its warnings are all we want; our own messages say the rest.
logging.getLogger("stem").setLevel(logging.WARNING)
_T = TypeVar("_T")

# KEY=value or KEY="quoted value" in GETINFO status/bootstrap-phase.
_KEYWORD = re.compile(r'([A-Z_]+)=("(?:[^"\\]|\\.)*"|\S+)')


@dataclass(frozen=True)
class BootstrapStatus:
    """GETINFO status/bootstrap-phase: how far tor got, and its complaint when it is stuck."""

    progress: int
    #: tor's tag for the phase ("conn", "loading_descriptors", "done", ...).
    tag: str
    summary: str
    #: WARNING= of a WARN phase (e.g. "Connection refused"), else None.
    warning: str | None = None

    @property
    def done(self) -> bool:
        return self.progress >= 100

    def describe(self) -> str:
        text = f"{self.progress}% ({self.summary or self.tag})"
        return f"{text}, tor warns: {self.warning}" if self.warning else text


@dataclass(frozen=True)
class CircuitInfo:
    """One circuit of GETINFO circuit-status."""

    id: str
    status: str
    purpose: str
    #: The SOCKS username of the streams the circuit is isolated to (None: not yet used by a stream).
    socks_username: str | None
    #: Fingerprints of the relays, first hop first.
    path: tuple[str, ...]


@dataclass(frozen=True)
class SocksListener:
    """A SocksPort of this tor: where it listens and whether it isolates streams by SOCKS credentials."""

    address: str
    port: int
    isolates_socks_auth: bool


@dataclass(frozen=True)
class Rotation:
    """What `rotate()` did: how long it waited for tor's rate limit, and whether tor confirmed the NEWNYM."""

    waited_s: float
    confirmed: bool
    took_s: float


class _ControlPort(stem.socket.ControlPort):
    """stem's ControlPort with a connect timeout, host names allowed (stem's own wants an IPv4 address), and `abort()`.

    The control port lives on the SOCKS port's host: a name on our own network (e.g. `tor-proxy`), resolved locally.
    """

    def __init__(self, host: str, port: int, connect_timeout_s: float) -> None:
        self._host = host
        self._connect_timeout_s = connect_timeout_s
        self._raw: socket.socket | None = None
        self._aborted = False
        super().__init__(address=host, port=port, connect=True)

    def _make_socket(self) -> socket.socket:
        # stem reconnects by itself in places (get_protocolinfo does when its first answer fails): after abort()
        # that would open a connection nobody waits for, and block a thread on it for good.
        if self._aborted:
            raise stem.SocketError("the connection was aborted")
        try:
            sock = socket.create_connection((self._host, self.port), timeout=self._connect_timeout_s)
        except OSError as exc:
            raise stem.SocketError(exc) from exc
        sock.settimeout(None)  # stem's reader thread blocks on it; abort() wakes it
        self._raw = sock
        return sock

    def abort(self) -> None:
        """Shut the socket down now, from any thread, for good: blocked reads return, and stem sees it closed."""
        self._aborted = True
        if self._raw is not None:
            try:
                self._raw.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # not connected any more


class TorController:
    """Tor's control port on `config.socks_host:config.control_port`, authenticated as `TorConfig` says.

    `connect()` is idempotent and reconnects after tor restarted; every other method connects first. Errors are
    `ControlPortUnavailable` (refused, closed, silent, not a control port) or `ControlAuthFailed` (wrong password,
    missing or foreign cookie, a method that is not configured), each with a message naming what to fix.

    With `proxy`, every NEWNYM tor performs gives the proxy's purposes new circuits (see the module doc).
    """

    def __init__(
        self,
        config: TorConfig,
        *,
        proxy: _CircuitRenewer | None = None,
        stats: TorStats | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        if config.direct or config.socks_host is None:
            raise ValueError("TorController needs Tor: the configuration has no SOCKS host or turns Tor off")
        self._config = config
        self._host = config.socks_host
        self._proxy = proxy
        self.stats = stats if stats is not None else TorStats()
        self._timeout_s = timeout_s
        self._where = f"Tor control port {self._host}:{config.control_port}"
        self._controller: stem.control.Controller | None = None
        self._port: _ControlPort | None = None
        # Controllers being closed: their "closed" notices are ours, not tor's.
        self._stale: weakref.WeakSet[stem.control.Controller] = weakref.WeakSet()
        # Two threads: one call at a time in practice, plus the connect of a reconnection.
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tor-control")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connect_lock = asyncio.Lock()
        self._rotate_lock = asyncio.Lock()
        self._closed = False
        self._change_listeners: list[Callable[[str], None]] = []
        # NEWNYMs tor announced (SIGNAL NEWNYM), and when the last one came (monotonic).
        self._newnyms_seen = 0
        self._last_newnym_seen: float | None = None
        self._newnym_seen = asyncio.Event()
        self._tor_version: str | None = None

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<TorController {self._host}:{self._config.control_port} {state}>"

    @property
    def connected(self) -> bool:
        """True while an authenticated control connection is open."""
        return self._controller is not None and self._controller.is_alive()

    @property
    def tor_version(self) -> str | None:
        """tor's version as PROTOCOLINFO reported it on the last connection."""
        return self._tor_version

    def add_change_listener(self, listener: Callable[[str], None]) -> None:
        """Call `listener(what)` on the event loop when tor's state may have changed: "closed" (the control
        connection was lost), "bootstrap", "circuits" (STATUS_CLIENT events). The health monitor checks then."""
        self._change_listeners.append(listener)

    # -- connection ---------------------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open and authenticate the control connection unless it is open; subscribe to SIGNAL and STATUS_CLIENT."""
        if self._closed:
            raise RuntimeError("TorController is closed")
        async with self._connect_lock:
            if self.connected:
                return
            self._loop = asyncio.get_running_loop()
            await self._drop()
            try:
                async with asyncio.timeout(self._timeout_s):
                    port = await self._in_thread(_ControlPort, self._host, self._config.control_port, self._timeout_s)
            except TimeoutError:
                raise ControlPortUnavailable(f"{self._where}: no connection within {self._timeout_s:g} s") from None
            except stem.SocketError as exc:
                raise ControlPortUnavailable(f"cannot connect to {self._where}: {_cause(exc)}") from exc
            controller = stem.control.Controller(port)
            self._controller, self._port = controller, port
            try:
                await self._call("authentication", self._authenticate, controller, connected=False)
                await self._call(
                    "SETEVENTS", controller.add_event_listener, self._event_from_stem, EventType.SIGNAL,
                    EventType.STATUS_CLIENT, connected=False,
                )  # fmt: skip
            except BaseException:
                await self._drop()
                raise
            controller.add_status_listener(self._state_from_stem, spawn=False)
            _log.info("connected to %s (tor %s)", self._where, self._tor_version or "?")

    def _authenticate(self, controller: stem.control.Controller) -> None:
        """Runs in a worker thread: PROTOCOLINFO, then exactly the configured method (see TorConfig)."""
        config = self._config
        try:
            info = stem.connection.get_protocolinfo(controller)
        except stem.ProtocolError as exc:
            raise ControlPortUnavailable(
                f"{self._where} does not speak Tor's control protocol (is it the SOCKS port or another service?): {exc}"
            ) from exc
        except stem.SocketError as exc:
            raise ControlPortUnavailable(
                f"{self._where} closed the connection instead of answering PROTOCOLINFO "
                f"(is it a Tor control port?): {_cause(exc)}"
            ) from exc
        self._tor_version = str(info.tor_version) if info.tor_version else None
        offered = set(info.auth_methods)
        offered_names = ", ".join(sorted(str(method) for method in offered)) or "none"
        password = config.control_password
        cookie_path: str | None = None
        if password is not None:
            if AuthMethod.PASSWORD not in offered:
                raise ControlAuthFailed(
                    f"TOR_CONTROL_PASSWORD is set but {self._where} does not take a password "
                    f"(it offers {offered_names}); unset it or configure HashedControlPassword in torrc"
                )
            info.auth_methods = (AuthMethod.PASSWORD,)
        elif AuthMethod.NONE in offered and config.control_cookie_path is None:
            info.auth_methods = (AuthMethod.NONE,)
        else:
            cookie_methods = [method for method in (AuthMethod.SAFECOOKIE, AuthMethod.COOKIE) if method in offered]
            if not cookie_methods:
                raise ControlAuthFailed(
                    f"{self._where} wants a password (it offers {offered_names}): set TOR_CONTROL_PASSWORD_FILE, "
                    "/run/secrets/tor_control_password or TOR_CONTROL_PASSWORD"
                )
            if config.control_cookie_path is not None:
                cookie_path, source = config.control_cookie_path, "TOR_CONTROL_COOKIE_PATH"
            elif info.cookie_path:
                cookie_path, source = info.cookie_path, "the path tor reported in PROTOCOLINFO"
            else:
                raise ControlAuthFailed(f"{self._where} did not say where its cookie is: set TOR_CONTROL_COOKIE_PATH")
            if not os.path.isfile(cookie_path):
                raise ControlAuthFailed(
                    f"the control cookie file {cookie_path} ({source}) does not exist: share tor's cookie with this "
                    "process, set TOR_CONTROL_COOKIE_PATH to where it is mounted, or use TOR_CONTROL_PASSWORD"
                )
            info.cookie_path = cookie_path
            info.auth_methods = (cookie_methods[0],)
        try:
            controller.authenticate(password=password, protocolinfo_response=info)
        except (stem.connection.IncorrectPassword, stem.connection.PasswordAuthRejected) as exc:
            raise ControlAuthFailed(f"{self._where} rejected the control password (TOR_CONTROL_PASSWORD)") from exc
        except stem.connection.UnreadableCookieFile as exc:
            raise ControlAuthFailed(f"cannot read the control cookie {cookie_path}: {exc}") from exc
        except stem.connection.CookieAuthFailed as exc:
            raise ControlAuthFailed(
                f"{self._where} rejected the cookie in {cookie_path}: it belongs to another tor or an earlier run"
            ) from exc
        except stem.connection.AuthenticationFailure as exc:
            raise ControlAuthFailed(f"{self._where} refused authentication: {type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        """Close the control connection for good."""
        self._closed = True
        await self._drop()
        self._executor.shutdown(wait=False)

    def _in_thread(self, function: Callable[..., _T], *args: Any) -> asyncio.Future[_T]:
        return asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def _drop(self) -> None:
        """Close the current connection, if any. Its socket is shut down here and now, which wakes every thread
        blocked on it (stem's reader, a worker waiting for a reply); stem's own close, which joins its threads,
        runs in a thread of its own so it can neither block the loop nor keep a worker busy."""
        controller, port, self._controller, self._port = self._controller, self._port, None, None
        if port is not None:
            port.abort()
        if controller is not None:
            self._stale.add(controller)
            threading.Thread(target=controller.close, name="tor-control-close", daemon=True).start()

    async def _call(self, what: str, function: Callable[..., _T], *args: Any, connected: bool = True) -> _T:
        """`function(*args)` in a worker thread, within the time limit; stem's failures as our errors."""
        if connected:
            await self.connect()
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._in_thread(function, *args)
        except TimeoutError:
            await self._drop()
            raise ControlPortUnavailable(f"{self._where} did not answer {what} within {self._timeout_s:g} s") from None
        except TorControlError:
            raise
        except stem.SocketClosed as exc:
            await self._drop()
            raise ControlPortUnavailable(f"{self._where} closed the connection during {what} (tor stopped?)") from exc
        except stem.SocketError as exc:
            await self._drop()
            raise ControlPortUnavailable(f"{self._where} failed during {what}: {_cause(exc)}") from exc
        except stem.ControllerError as exc:
            raise ControlPortUnavailable(f"{self._where} refused {what}: {exc}") from exc

    # -- what tor says ------------------------------------------------------------------------------------------

    async def bootstrap(self) -> BootstrapStatus:
        """GETINFO status/bootstrap-phase."""
        controller = await self._connected()
        phase = await self._call("GETINFO status/bootstrap-phase", controller.get_info, "status/bootstrap-phase")
        return _parse_bootstrap(phase)

    async def circuit_established(self) -> bool:
        """GETINFO status/circuit-established: tor believes it can build circuits (1) or has given up for now (0)."""
        controller = await self._connected()
        key = "status/circuit-established"
        value = await self._call(f"GETINFO {key}", controller.get_info, key)
        return value.strip() == "1"

    async def circuits(self) -> list[CircuitInfo]:
        """GETINFO circuit-status, every circuit tor has now."""
        controller = await self._connected()
        found = await self._call("GETINFO circuit-status", controller.get_circuits)
        return [
            CircuitInfo(
                id=circuit.id,
                status=str(circuit.status),
                purpose=str(circuit.purpose),
                socks_username=circuit.socks_username,
                path=tuple(fingerprint for fingerprint, _ in circuit.path),
            )
            for circuit in found
        ]

    async def socks_listeners(self) -> list[SocksListener]:
        """tor's SocksPorts (GETINFO net/listeners/socks) with their isolation (GETCONF SocksPort)."""
        controller = await self._connected()
        listening = await self._call("GETINFO net/listeners/socks", controller.get_info, "net/listeners/socks")
        get_socks_ports = functools.partial(controller.get_conf, "SocksPort", multiple=True)
        configured = await self._call("GETCONF SocksPort", get_socks_ports)
        return _parse_socks_listeners(listening, configured)

    # -- NEWNYM -------------------------------------------------------------------------------------------------

    def newnym_wait_s(self) -> float:
        """Seconds until tor would perform a NEWNYM at once: after our last NEWNYM and the last one tor announced."""
        wait_s = self._controller.get_newnym_wait() if self._controller is not None else 0.0
        if self._last_newnym_seen is not None:
            wait_s = max(wait_s, self._last_newnym_seen + NEWNYM_MIN_INTERVAL_S - time.monotonic())
        return max(0.0, wait_s)

    async def rotate(self, *, wait: bool = True, reason: str = "on demand") -> Rotation:
        """Send NEWNYM and wait for tor to perform it; the proxy's purposes then get new circuits.

        With `wait=False` a NEWNYM that tor would defer is not sent: `NewnymRateLimited` says when to try.
        Concurrent calls are serialised; each sends its own NEWNYM after the rate limit.
        """
        started = time.monotonic()
        async with self._rotate_lock:
            await self.connect()
            waited_s = self.newnym_wait_s()
            if waited_s > 0:
                if not wait:
                    raise NewnymRateLimited(
                        f"tor performs NEWNYM at most once per {NEWNYM_MIN_INTERVAL_S:g} s: "
                        f"next one in {waited_s:.1f} s",
                        retry_after_s=waited_s,
                    )
                _log.info("NEWNYM (%s) waits %.1f s for tor's rate limit", reason, waited_s)
                await asyncio.sleep(waited_s)
            controller = await self._connected()  # after the wait: tor may have restarted meanwhile
            seen_before = self._newnyms_seen
            self._newnym_seen.clear()
            await self._call("SIGNAL NEWNYM", controller.signal, Signal.NEWNYM)
            # tor defers a NEWNYM that comes less than 10 s after another one (e.g. another controller's) and
            # announces it when it performs it.
            confirmed = await self._wait_for_newnym(seen_before, NEWNYM_MIN_INTERVAL_S + self._timeout_s)
            if not confirmed:
                _log.warning("tor did not confirm NEWNYM (%s) in time; purposes get new circuits anyway", reason)
                if self._proxy is not None:
                    self._proxy.new_circuits()
            _log.info("NEWNYM (%s) done in %.2f s", reason, time.monotonic() - started)
            return Rotation(waited_s=waited_s, confirmed=confirmed, took_s=time.monotonic() - started)

    async def rotate_every(self, interval_s: float) -> None:
        """Rotate every `interval_s` seconds until cancelled; a failed rotation is logged and retried next time."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.rotate(reason="scheduled")
            except TorControlError as exc:
                _log.warning("scheduled NEWNYM failed, next try in %g s: %s", interval_s, exc)

    async def _wait_for_newnym(self, seen_before: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self._newnyms_seen == seen_before:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                async with asyncio.timeout(remaining):
                    await self._newnym_seen.wait()
            except TimeoutError:
                return False
            self._newnym_seen.clear()
        return True

    async def _connected(self) -> stem.control.Controller:
        await self.connect()
        controller = self._controller
        if controller is None:
            raise ControlPortUnavailable(f"{self._where}: the connection closed again at once")
        return controller

    # -- events from stem's threads -------------------------------------------------------------------------------

    def _event_from_stem(self, event: stem.response.events.Event) -> None:
        self._to_loop(self._on_event, event)

    def _state_from_stem(self, controller: stem.control.Controller, state: State, timestamp: float) -> None:
        if state == State.CLOSED and controller not in self._stale:
            self._to_loop(self._on_closed, controller)

    def _to_loop(self, callback: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            pass  # the loop closed meanwhile: nobody is left to tell

    def _on_event(self, event: stem.response.events.Event) -> None:
        if isinstance(event, stem.response.events.SignalEvent):
            if event.signal == Signal.NEWNYM:
                self._newnyms_seen += 1
                self._last_newnym_seen = time.monotonic()
                self.stats.newnym_rotations += 1
                self._newnym_seen.set()
                if self._proxy is not None:
                    self._proxy.new_circuits()
                _log.info("tor performed NEWNYM: every purpose gets a new circuit")
            return
        if isinstance(event, stem.response.events.StatusEvent):
            action = str(event.action)
            if action == "BOOTSTRAP":
                self._notify("bootstrap")
            elif action in ("CIRCUIT_ESTABLISHED", "CIRCUIT_NOT_ESTABLISHED", "ENOUGH_DIR_INFO", "NOT_ENOUGH_DIR_INFO"):
                if action.startswith("CIRCUIT_NOT") or action.startswith("NOT_"):
                    _log.warning("tor: %s %s", action, event.arguments)
                self._notify("circuits")

    def _on_closed(self, controller: stem.control.Controller) -> None:
        if controller is self._controller:
            _log.warning("lost the connection to %s (tor stopped or restarted)", self._where)
            self._notify("closed")

    def _notify(self, what: str) -> None:
        for listener in list(self._change_listeners):
            try:
                listener(what)
            except Exception:
                _log.exception("a Tor change listener failed")


class _CircuitRenewer(Protocol):
    """What the controller needs from `TorProxy`."""

    def new_circuits(self, purpose: str | None = None) -> None: ...


def _cause(exc: BaseException) -> str:
    """The OS error behind a stem.SocketError, in words ("[Errno 111] Connection refused")."""
    inner = exc.__cause__ or (exc.args[0] if exc.args else None)
    return str(inner) if inner is not None else str(exc)


def _parse_bootstrap(phase: str) -> BootstrapStatus:
    fields = {key: value.strip('"') for key, value in _KEYWORD.findall(phase)}
    try:
        progress = int(fields.get("PROGRESS", "0"))
    except ValueError:
        progress = 0
    warning = fields.get("WARNING") if phase.split(" ", 1)[0] == "WARN" else None
    return BootstrapStatus(
        progress=progress, tag=fields.get("TAG", ""), summary=fields.get("SUMMARY", ""), warning=warning
    )


def _parse_socks_listeners(listening: str, configured: list[str]) -> list[SocksListener]:
    """Listeners from `net/listeners/socks` ('"127.0.0.1:9050" "[::1]:9050"') and flags from the SocksPort lines
    ("127.0.0.1:9050 IsolateSOCKSAuth", "9050 NoIsolateSOCKSAuth", "auto")."""
    no_isolation_ports: set[int] = set()
    for line in configured:
        words = line.split()
        if not words:
            continue
        port_text = words[0].rsplit(":", 1)[-1]
        if port_text.isdigit() and any(word.lower() == "noisolatesocksauth" for word in words[1:]):
            no_isolation_ports.add(int(port_text))
    listeners = []
    for item in listening.split():
        address, _, port_text = item.strip('"').rpartition(":")
        if port_text.isdigit():
            port = int(port_text)
            listeners.append(SocksListener(address.strip("[]"), port, port not in no_isolation_ports))
    return listeners


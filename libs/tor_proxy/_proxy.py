"""`TorProxy`: one aiohttp session per purpose, each on its own Tor circuit, failing closed."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace, TracebackType
from typing import TYPE_CHECKING, Self

import aiohttp

from ._config import TorConfig
from ._stats import TorStats
from ._exceptions import DestinationUnreachable, ProxyNotConfigured, ProxyUnavailable, TorProxyError

if TYPE_CHECKING:
    from ._connector import TorConnector

__all__ = ["USER_AGENT", "ConnectivityResult", "ProbeResult", "TorProxy"]

_log = logging.getLogger("tor_proxy")

_MAX_PURPOSE_LENGTH = 128
#: How many purposes' rotation counts are kept per allowed session before every purpose is moved on at once.
_ROTATED_PURPOSES_PER_SESSION = 16
_SOCKS5_NO_AUTH_GREETING = b"\x05\x01\x00"
_SOCKS5_NO_AUTH_CHOSEN = b"\x05\x00"

#: The User-Agent every node sends: Tor Browser's (Firefox ESR 140 on Windows), the most common one in traffic
#: from Tor exits, and the same whatever Python, aiohttp or OS a node runs. aiohttp's default would name all three.
USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; rv:140.0) Gecko/20100101 Firefox/140.0"
# Fixed too: aiohttp adds "br" when the brotli package happens to be installed, which tells nodes apart.
_NEUTRAL_HEADERS = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"}


@dataclass(frozen=True)
class ProbeResult:
    """The SOCKS port answered a SOCKS5 greeting. `via_tor` is False in direct mode (nothing to probe)."""

    via_tor: bool
    latency_ms: float


@dataclass(frozen=True)
class ConnectivityResult:
    """A GET of `url` through the purpose's session got an HTTP answer (any status)."""

    url: str
    status: int
    latency_ms: float
    #: True when the answer took longer than `TorConfig.max_latency_ms`.
    slow: bool


@dataclass(eq=False)
class _Session:
    """A cached session and what eviction and rotation need to know about it."""

    purpose: str
    username: str
    session: aiohttp.ClientSession = field(init=False)
    created: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)
    #: Requests started and not yet answered (headers) or failed.
    in_flight: int = 0


async def _close_later(entry: _Session, grace_s: float) -> None:
    """Close a retired session after `grace_s`, or up to `grace_s` more while requests still run on it."""
    if grace_s > 0:
        await asyncio.sleep(grace_s)
        until = time.monotonic() + grace_s
        while entry.in_flight > 0 and time.monotonic() < until:
            await asyncio.sleep(0.1)
    await entry.session.close()


class TorProxy:
    """The one way out to the internet.

    `session(purpose)` returns an `aiohttp.ClientSession` whose only transport is Tor's SOCKS port
    (remote DNS, no local resolution of the destination). Each purpose ("chain-read", "broadcast",
    "wallet:<id>") gets its own cached session whose SOCKS username and password are derived from the
    purpose and a random per-instance salt: Tor's IsolateSOCKSAuth then keeps purposes on separate
    circuits, and the purpose's name never reaches Tor. Create one `TorProxy` per process.

    Failures raise `tor_proxy`'s exceptions (all `Unavailable`). There is no fallback: when the proxy
    cannot be used, nothing is sent. Only `TorConfig(direct=True)` connects directly, and that is
    logged as a WARNING here.

    Sessions use no cookie jar (cookies would link requests across circuits), ignore the HTTP(S)_PROXY
    environment variables (`trust_env=False`) and send the same neutral headers from every node
    (`USER_AGENT`, a fixed Accept-Encoding) instead of aiohttp's, which name the library, its version
    and whether brotli is installed.

    Rotation: `new_circuits()` (called after every NEWNYM) and a request slower than
    `TorConfig.max_latency_ms` give the purposes new SOCKS credentials: the next request opens a new
    connection that Tor must put on a new circuit, even while tor still defers the NEWNYM. The old
    session is retired, not closed at once: requests already running on it finish, and it is closed
    `connectivity_timeout_s` later. So call `session(purpose)` for each request rather than keeping the
    session: a kept one keeps its old circuit, then fails with "Session is closed".

    The cache is bounded (per-wallet purposes would otherwise grow without end): when a session is
    created, those unused for `session_idle_s` are closed and beyond `max_sessions` the least recently
    used are retired. A rotation is never undone: an evicted purpose keeps its rotation count, so its
    next session does not get the credentials (and circuit) it was moved away from. The counts are
    bounded too: beyond `16 * max_sessions` rotated purposes, every purpose moves to new credentials at
    once (as after `new_circuits()`) and the counts start again under the new epoch.
    """

    def __init__(
        self,
        config: TorConfig,
        *,
        max_sessions: int = 256,
        session_idle_s: float = 600.0,
        stats: TorStats | None = None,
    ) -> None:
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be >= 1, got {max_sessions}")
        if not session_idle_s > 0:
            raise ValueError(f"session_idle_s must be > 0, got {session_idle_s}")
        self._config = config
        # aiohttp-socks is loaded only by a process that goes through Tor, and then here, at construction: a ~0.1 s
        # import inside the first request would make it late, and a refusal while Tor is down no longer instant.
        self._socks_connector: type[TorConnector] | None = None
        if not config.direct:
            from ._connector import TorConnector

            self._socks_connector = TorConnector
        self._max_sessions = max_sessions
        self._max_rotated_purposes = _ROTATED_PURPOSES_PER_SESSION * max_sessions
        self._session_idle_s = session_idle_s
        self.stats = stats if stats is not None else TorStats()
        # Per process (per instance): credentials are stable for a purpose while the process runs,
        # and cannot be linked to the purpose's name, nor across restarts.
        self._salt = secrets.token_bytes(32)
        # Bumped by new_circuits(): every purpose, or one purpose, gets new credentials. Only ever increase:
        # credentials derive from (epoch, purpose count, purpose), so a count going back would reuse old ones.
        self._epoch = 0
        self._purpose_epochs: dict[str, int] = {}
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._retired: dict[asyncio.Task[None], _Session] = {}
        self._unavailable: tuple[str, float | None] | None = None
        self._failure_listeners: list[Callable[[TorProxyError], None]] = []
        self._closed = False
        if config.direct:
            _log.warning(
                "Tor is OFF (USE_TOR_FOR_EXTERNAL_CALLS=false, direct mode): external requests connect "
                "DIRECTLY and resolve names locally; this node reveals its address to every host it "
                "calls. Only acceptable for a devnet on loopback."
            )
        elif config.socks_host is None:
            _log.error(
                "Tor is required and no SOCKS endpoint is configured (TOR_PROXY / TOR_PROXY_HOST): "
                "every external request will fail with ProxyNotConfigured"
            )
        else:
            _log.info("external requests go through Tor at %s with remote DNS", config.proxy_url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TorProxy:
        """A proxy configured by `TorConfig.from_env(environ)`."""
        return cls(TorConfig.from_env(environ))

    @property
    def config(self) -> TorConfig:
        return self._config

    # -- sessions -----------------------------------------------------------------------------------

    def session(self, purpose: str) -> aiohttp.ClientSession:
        """The session for `purpose`, created on first use and cached (see the class doc for how long).

        Raises `ProxyNotConfigured` (before any socket is opened) when Tor is required and no SOCKS
        endpoint is configured. Must be called from the event loop the session will be used on.
        """
        _check_purpose(purpose)
        if self._closed:
            raise RuntimeError("TorProxy is closed")
        if not self._config.configured:
            raise ProxyNotConfigured(
                "Tor is required and no SOCKS endpoint is configured (set TOR_PROXY or TOR_PROXY_HOST); "
                "nothing was sent"
            )
        now = time.monotonic()
        entry = self._sessions.get(purpose)
        if entry is not None and (entry.session.closed or entry.username != self.socks_username(purpose)):
            self._retire(purpose)
            entry = None
        if entry is None:
            self._evict(now)
            entry = self._new_session(purpose)
            self._sessions[purpose] = entry
        self._sessions.move_to_end(purpose)
        entry.last_used = now
        return entry.session

    def socks_username(self, purpose: str) -> str:
        """The SOCKS username sent for `purpose` now: what Tor's control port reports as SOCKS_USERNAME for
        its streams and circuits, so circuit isolation can be checked per purpose. It changes when the
        purpose gets new circuits (`new_circuits`, a slow request)."""
        _check_purpose(purpose)
        return self._credentials(purpose)[0]

    def new_circuits(self, purpose: str | None = None) -> None:
        """Give `purpose` (None: every purpose) new SOCKS credentials, so its next request opens a new
        connection on a new circuit. Sessions in use are retired (see the class doc), not cut."""
        if purpose is None:
            self._epoch += 1
            self._purpose_epochs.clear()
            for name in list(self._sessions):
                self._retire(name)
        else:
            _check_purpose(purpose)
            self._purpose_epochs[purpose] = self._purpose_epochs.get(purpose, 0) + 1
            if len(self._purpose_epochs) > self._max_rotated_purposes:
                # Forgetting one purpose's count would give it its old circuit back; a new epoch for all
                # bounds the memory and undoes no rotation.
                self.new_circuits()
            elif purpose in self._sessions:
                self._retire(purpose)

    @property
    def purposes(self) -> list[str]:
        """The purposes that have a cached session, least recently used first."""
        return list(self._sessions)

    def _credentials(self, purpose: str) -> tuple[str, str]:
        material = f"{self._epoch}\0{self._purpose_epochs.get(purpose, 0)}\0{purpose}"
        digest = hmac.new(self._salt, material.encode("utf-8"), hashlib.sha256).hexdigest()
        return digest[:32], digest[32:]

    def _new_session(self, purpose: str) -> _Session:
        config = self._config
        username, password = self._credentials(purpose)
        connector: aiohttp.BaseConnector
        if self._socks_connector is None:
            connector = aiohttp.TCPConnector()
        else:
            assert config.socks_host is not None  # `configured` was checked by the caller
            connector = self._socks_connector(
                host=config.socks_host,
                port=config.socks_port,
                username=username,
                password=password,
                admit=self._admit,
            )
        entry = _Session(purpose=purpose, username=username)
        # Default limits per phase, not in total: connecting (SOCKS handshake and Tor's circuit to the
        # destination) and each read get `connectivity_timeout_s`. Only the connector's own limit is
        # set for connecting, so a hung SOCKS port surfaces as ProxyUnavailable, not a bare timeout.
        # Callers pass their own `timeout=` per request (a `total` then raises asyncio.TimeoutError).
        entry.session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=config.connectivity_timeout_s, sock_read=config.connectivity_timeout_s
            ),
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            headers=_NEUTRAL_HEADERS,
            trace_configs=[self._trace(entry)],
        )
        return entry

    def _trace(self, entry: _Session) -> aiohttp.TraceConfig:
        """Counts requests, failures and latency of `entry`'s session, and rotates a slow purpose."""
        trace = aiohttp.TraceConfig()
        stats = self.stats

        async def started(session: object, context: SimpleNamespace, params: object) -> None:
            context.started = time.monotonic()
            entry.in_flight += 1
            stats.requests += 1

        async def answered(session: object, context: SimpleNamespace, params: object) -> None:
            entry.in_flight -= 1
            latency_ms = (time.monotonic() - context.started) * 1000
            stats.last_latency_ms = latency_ms
            if latency_ms > self._config.max_latency_ms:
                stats.slow_requests += 1
                self._rotate_slow(entry, latency_ms)

        async def failed(
            session: object, context: SimpleNamespace, params: aiohttp.TraceRequestExceptionParams
        ) -> None:
            entry.in_flight -= 1
            stats.failures += 1
            if isinstance(params.exception, ProxyUnavailable):
                for listener in list(self._failure_listeners):
                    try:
                        listener(params.exception)
                    except Exception:
                        _log.exception("a Tor failure listener failed")

        trace.on_request_start.append(started)
        trace.on_request_end.append(answered)
        trace.on_request_exception.append(failed)
        trace.freeze()
        return trace

    def _rotate_slow(self, entry: _Session, latency_ms: float) -> None:
        # Once per purpose per health interval: a destination that is slow by itself must not make every
        # request build a new circuit (which makes it slower still).
        already_rotated = entry.username != self.socks_username(entry.purpose)
        if already_rotated or time.monotonic() - entry.created < self._config.health_check_interval_s:
            return
        self.stats.latency_rotations += 1
        _log.info(
            "a request of purpose %r took %.0f ms (> TOR_MAX_LATENCY_MS %d): its next request gets a new circuit",
            entry.purpose, latency_ms, self._config.max_latency_ms,
        )
        self.new_circuits(entry.purpose)

    def _evict(self, now: float) -> None:
        """Close sessions idle for `session_idle_s`, and retire the least recently used ones beyond
        `max_sessions - 1` (room for the one being created). A session with requests running is kept."""
        for purpose, entry in list(self._sessions.items()):
            if entry.in_flight == 0 and now - entry.last_used >= self._session_idle_s:
                self._retire(purpose, grace_s=0.0)
        for purpose, entry in list(self._sessions.items()):
            if len(self._sessions) < self._max_sessions:
                break
            if entry.in_flight == 0:
                self._retire(purpose)

    def _retire(self, purpose: str, *, grace_s: float | None = None) -> None:
        entry = self._sessions.pop(purpose)
        if entry.session.closed:
            return
        grace = self._config.connectivity_timeout_s if grace_s is None else grace_s
        task = asyncio.get_running_loop().create_task(_close_later(entry, grace), name="tor-proxy-retire")
        self._retired[task] = entry
        task.add_done_callback(lambda done: self._retired.pop(done, None))

    async def close(self) -> None:
        """Close every session (and its connections), retired ones too. The proxy cannot be used afterwards."""
        self._closed = True
        entries, self._sessions = list(self._sessions.values()), OrderedDict()
        retired, self._retired = dict(self._retired), {}
        for task in retired:
            task.cancel()
        for entry in [*entries, *retired.values()]:
            await entry.session.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- failing fast while Tor is known to be unusable ------------------------------------------------

    def set_unavailable(self, reason: str, *, retry_after_s: float | None = None) -> None:
        """Refuse every new connection with `ProxyUnavailable(reason)` before any socket is opened, until
        `set_available()`. The health monitor calls it while Tor is down, bootstrapping or without a usable
        circuit, so calls fail at once instead of waiting for their deadline."""
        self._unavailable = (reason, retry_after_s)

    def set_available(self) -> None:
        """Let requests try the SOCKS port again."""
        self._unavailable = None

    @property
    def unavailable_reason(self) -> str | None:
        """Why new connections are refused now, or None when they are tried."""
        return None if self._unavailable is None else self._unavailable[0]

    def add_failure_listener(self, listener: Callable[[TorProxyError], None]) -> None:
        """Call `listener(error)` (on the event loop) whenever a request fails with `ProxyUnavailable`:
        the health monitor checks Tor at once instead of at its next interval."""
        self._failure_listeners.append(listener)

    def _admit(self) -> None:
        if self._unavailable is not None:
            reason, retry_after_s = self._unavailable
            self.stats.refused_while_unavailable += 1
            raise ProxyUnavailable(f"Tor is not usable now ({reason}); nothing was sent", retry_after_s=retry_after_s)

    # -- health -------------------------------------------------------------------------------------

    async def probe(self, *, timeout_s: float = 5.0) -> ProbeResult:
        """Does the SOCKS port answer a SOCKS5 greeting? Sends nothing anywhere else.

        Raises `ProxyNotConfigured` or `ProxyUnavailable`. In direct mode there is no port to probe:
        the result says `via_tor=False`.
        """
        config = self._config
        if config.direct:
            return ProbeResult(via_tor=False, latency_ms=0.0)
        if config.socks_host is None:
            raise ProxyNotConfigured("Tor is required and no SOCKS endpoint is configured")
        where = f"Tor SOCKS port {config.socks_host}:{config.socks_port}"
        started = time.monotonic()
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(timeout_s):
                reader, writer = await asyncio.open_connection(config.socks_host, config.socks_port)
                writer.write(_SOCKS5_NO_AUTH_GREETING)
                await writer.drain()
                reply = await reader.readexactly(2)
        except TimeoutError as exc:
            raise ProxyUnavailable(f"{where} did not answer within {timeout_s} s") from exc
        except (OSError, asyncio.IncompleteReadError) as exc:
            raise ProxyUnavailable(f"cannot use {where}: {exc!r}") from exc
        finally:
            if writer is not None:
                writer.close()
        if reply != _SOCKS5_NO_AUTH_CHOSEN:
            raise ProxyUnavailable(f"{where} does not speak SOCKS5 (answered {reply!r})")
        return ProbeResult(via_tor=True, latency_ms=(time.monotonic() - started) * 1000)

    async def check_connectivity(
        self, url: str, *, purpose: str = "health-check", timeout_s: float | None = None
    ) -> ConnectivityResult:
        """GET `url` through the session of `purpose` and time the answer (any HTTP status counts).

        Raises `ProxyNotConfigured`, `ProxyUnavailable` (the proxy failed, or no answer in time) or
        `DestinationUnreachable`.
        """
        limit_s = self._config.connectivity_timeout_s if timeout_s is None else timeout_s
        session = self.session(purpose)
        started = time.monotonic()
        try:
            async with session.get(
                url,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=limit_s, sock_connect=limit_s),
            ) as response:
                await response.read()
                status = response.status
        except TorProxyError:
            raise
        except TimeoutError as exc:
            raise ProxyUnavailable(f"no answer from {url} within {limit_s} s") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise DestinationUnreachable(f"{url} did not answer: {exc!r}") from exc
        latency_ms = (time.monotonic() - started) * 1000
        return ConnectivityResult(
            url=url, status=status, latency_ms=latency_ms, slow=latency_ms > self._config.max_latency_ms
        )


def _check_purpose(purpose: object) -> None:
    if (
        not isinstance(purpose, str)
        or not purpose
        or len(purpose) > _MAX_PURPOSE_LENGTH
        or not purpose.isprintable()
    ):
        raise ValueError(f"purpose must be 1..{_MAX_PURPOSE_LENGTH} printable characters, got {purpose!r}")

"""`TorProxy`: one aiohttp session per purpose, each on its own Tor circuit, failing closed."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import aiohttp

from ._config import TorConfig
from ._connector import TorConnector
from .exceptions import DestinationUnreachable, ProxyNotConfigured, ProxyUnavailable, TorProxyError

__all__ = ["ConnectivityResult", "ProbeResult", "TorProxy"]

_log = logging.getLogger("tor_proxy")

_MAX_PURPOSE_LENGTH = 128
_SOCKS5_NO_AUTH_GREETING = b"\x05\x01\x00"
_SOCKS5_NO_AUTH_CHOSEN = b"\x05\x00"


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


class TorProxy:
    """The one way out to the internet.

    `session(purpose)` returns an `aiohttp.ClientSession` whose only transport is Tor's SOCKS port
    (remote DNS, no local resolution of the destination). Each purpose ("chain-read", "broadcast",
    "wallet:<id>") gets its own cached session whose SOCKS username and password are derived from the
    purpose and a random per-instance salt: Tor's IsolateSOCKSAuth then keeps purposes on separate
    circuits, and the purpose's name never reaches Tor. Create one `TorProxy` per process.

    Failures raise `tor_proxy.exceptions` (all `Unavailable`). There is no fallback: when the proxy
    cannot be used, nothing is sent. Only `TorConfig(direct=True)` connects directly, and that is
    logged as a WARNING here.

    Sessions use no cookie jar (cookies would link requests across circuits) and ignore the
    HTTP(S)_PROXY environment variables (`trust_env=False`).
    """

    def __init__(self, config: TorConfig) -> None:
        self._config = config
        # Per process (per instance): credentials are stable for a purpose while the process runs,
        # and cannot be linked to the purpose's name, nor across restarts.
        self._salt = secrets.token_bytes(32)
        self._sessions: dict[str, aiohttp.ClientSession] = {}
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
        """The session for `purpose`, created on first use and cached until `close()`.

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
        session = self._sessions.get(purpose)
        if session is None or session.closed:
            session = self._new_session(purpose)
            self._sessions[purpose] = session
        return session

    def socks_username(self, purpose: str) -> str:
        """The SOCKS username sent for `purpose`: what Tor's control port reports as SOCKS_USERNAME for
        its streams, so circuit isolation can be checked per purpose."""
        _check_purpose(purpose)
        return self._credentials(purpose)[0]

    def _credentials(self, purpose: str) -> tuple[str, str]:
        digest = hmac.new(self._salt, purpose.encode("utf-8"), hashlib.sha256).hexdigest()
        return digest[:32], digest[32:]

    def _new_session(self, purpose: str) -> aiohttp.ClientSession:
        config = self._config
        connector: aiohttp.BaseConnector
        if config.direct:
            connector = aiohttp.TCPConnector()
        else:
            assert config.socks_host is not None  # `configured` was checked by the caller
            username, password = self._credentials(purpose)
            connector = TorConnector(
                host=config.socks_host, port=config.socks_port, username=username, password=password
            )
        # Default limits per phase, not in total: connecting (SOCKS handshake and Tor's circuit to the
        # destination) and each read get `connectivity_timeout_s`. Only the connector's own limit is
        # set for connecting, so a hung SOCKS port surfaces as ProxyUnavailable, not a bare timeout.
        # Callers pass their own `timeout=` per request (a `total` then raises asyncio.TimeoutError).
        return aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=config.connectivity_timeout_s, sock_read=config.connectivity_timeout_s
            ),
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def close(self) -> None:
        """Close every session (and its connections). The proxy cannot be used afterwards."""
        self._closed = True
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

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

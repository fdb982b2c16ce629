"""`TronGridClient`: TronGrid's HTTP API through tor_proxy sessions, with retries and a circuit breaker."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp

from lucid_tron.chain import is_address
from lucid_tron.context import deadlines
from lucid_tron.errors import DeadlineExceeded
from tor_proxy import DestinationUnreachable, ProxyNotConfigured, TorProxyError

from ._breaker import CircuitBreaker
from ._responses import interpret
from ._exceptions import (
    TronGridBadResponse,
    TronGridError,
    TronGridNodeBusy,
    TronGridThrottled,
    TronGridTorUnavailable,
    TronGridUnavailable,
)

__all__ = ["BROADCAST_PATHS", "RetryPolicy", "SessionProvider", "TronGridClient"]

_log = logging.getLogger("lucid_tron.trongrid")

#: The paths that change the chain. Everything else (including POST reads and the /wallet/create*
#: builders, which only return an unsigned transaction) is safe to repeat.
BROADCAST_PATHS = frozenset({"/wallet/broadcasttransaction", "/wallet/broadcasthex"})

_API_KEY_HEADER = "TRON-PRO-API-KEY"

# What a path segment may be: TronGrid's API names, base58 addresses, hex, numbers. No '%' (an escape a server
# would decode into '/', '?' or '..'), no '?' or '#' (a query or fragment smuggled into the path), no spaces.
_SEGMENT = re.compile(r"[A-Za-z0-9_.-]+", re.ASCII)
# FullNode API names: getnowblock, gettransactioninfobyblocknum, getBrokerage.
_API_NAME = re.compile(r"[A-Za-z0-9]+", re.ASCII)
_TXID = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)
# The /v1 resources whose next segment names an account, a contract or a transaction, and how it is checked.
_V1_IDENTIFIERS = {
    "accounts": ("an address", is_address),
    "contracts": ("an address", is_address),
    "transactions": ("a 64-digit hex txid", _TXID.fullmatch),
}


class SessionProvider(Protocol):
    """What the client needs from `tor_proxy.TorProxy`: a session per purpose."""

    def session(self, purpose: str) -> aiohttp.ClientSession: ...


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently a call is repeated.

    Delays use exponential backoff with full jitter: a random delay in
    [0, min(max_delay_s, base_delay_s * 2**(retry - 1))]. When TronGrid says how long to wait
    (Retry-After, "suspended for N s"), the wait is that plus a jitter of at most `base_delay_s`;
    a wait longer than `max_retry_after_s` is not waited for: the call raises `TronGridThrottled`.
    """

    #: Attempts in all, the first one included (1 = never retry).
    max_attempts: int = 4
    base_delay_s: float = 0.25
    max_delay_s: float = 8.0
    max_retry_after_s: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        for name in ("base_delay_s", "max_delay_s", "max_retry_after_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a non-negative number of seconds, got {value}")

    def backoff_s(self, retry: int, rng: random.Random) -> float:
        """The delay before retry number `retry` (1 for the first retry)."""
        return rng.uniform(0.0, min(self.max_delay_s, self.base_delay_s * 2 ** (retry - 1)))


@dataclass
class TronGridStats:
    """What this client asked of TronGrid, for the service's metrics: TronGrid's quotas count requests (each attempt,
    retries included), and a 429 says a quota ran out."""

    requests: int = 0
    throttled: int = 0


class TronGridClient:
    """Async client of TronGrid's HTTP API (FullNode `/wallet/*`, solidified `/walletsolidity/*`, `/v1/*`).

    Every request goes through `proxy.session(purpose)`: there is no other transport. Methods return the
    parsed JSON or raise the `lucid_tron.trongrid` exceptions (and `tor_proxy.ProxyNotConfigured`).

    - Deadlines: each attempt gets `timeout_s`, cut to what is left of the call's deadline: the caller's
      RPC deadline (`lucid_tron.context.deadlines`) or `deadline_s`, whichever is sooner. No attempt and no
      backoff outlives it; with no time left at all the call raises `DeadlineExceeded` without a request.
    - Retries: on timeouts, dropped connections, Tor failures, 5xx, undecodable bodies and throttling,
      with `retry` policy. By default every path is retried except `BROADCAST_PATHS`; pass `retry=True`
      to retry a broadcast (safe: a rebroadcast answers DUP_TRANSACTION_ERROR) or `retry=False` to try
      once. A node error or another 4xx is never retried.
    - Throttling: Retry-After is honoured, and shared: after TronGrid asks for a pause, every call of
      this client waits for it (or fails fast with `TronGridThrottled` if its deadline is shorter).
    - A circuit breaker (see `CircuitBreaker`) makes calls fail fast while TronGrid keeps failing.
    """

    def __init__(
        self,
        base_url: str,
        proxy: SessionProvider,
        *,
        api_key: str | None = None,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._base_url = _check_base_url(base_url)
        self._proxy = proxy
        if api_key is not None and (any(c in api_key for c in "\r\n") or api_key != api_key.strip()):
            raise ValueError("api_key must be a single token without spaces or line breaks")
        self._headers = {"Accept": "application/json"}
        if api_key:
            self._headers[_API_KEY_HEADER] = api_key
        if not (math.isfinite(timeout_s) and timeout_s > 0):
            raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s}")
        self._timeout_s = timeout_s
        self._retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self._rng = random.Random()
        self._throttled_until = 0.0
        self.stats = TronGridStats()

    def __repr__(self) -> str:
        # Never the API key.
        return f"<TronGridClient {self._base_url} breaker={self.breaker.state.value}>"

    @property
    def base_url(self) -> str:
        return self._base_url

    # -- calls --------------------------------------------------------------------------------------

    async def get(
        self,
        path: str,
        params: Mapping[str, str | int] | None = None,
        *,
        purpose: str = "chain-read",
        retry: bool | None = None,
        deadline_s: float | None = None,
    ) -> Any:
        """GET `path` (e.g. "/v1/accounts/T.../transactions/trc20") with query `params`."""
        return await self._call("GET", path, params=params, json_body=None, purpose=purpose, retry=retry, deadline_s=deadline_s)

    async def post(
        self,
        path: str,
        json_body: Any = None,
        *,
        purpose: str = "chain-read",
        retry: bool | None = None,
        deadline_s: float | None = None,
    ) -> Any:
        """POST `json_body` as JSON to `path` (e.g. "/wallet/getaccount")."""
        body = {} if json_body is None else json_body
        return await self._call("POST", path, params=None, json_body=body, purpose=purpose, retry=retry, deadline_s=deadline_s)

    async def wallet(
        self,
        name: str,
        json_body: Any = None,
        *,
        purpose: str = "chain-read",
        retry: bool | None = None,
        deadline_s: float | None = None,
    ) -> Any:
        """POST to the FullNode API `/wallet/<name>` (latest state, not final)."""
        return await self.post(f"/wallet/{_check_name(name)}", json_body, purpose=purpose, retry=retry, deadline_s=deadline_s)

    async def solidity(
        self,
        name: str,
        json_body: Any = None,
        *,
        purpose: str = "chain-read",
        retry: bool | None = None,
        deadline_s: float | None = None,
    ) -> Any:
        """POST to the solidified API `/walletsolidity/<name>` (final state, ~1 min behind)."""
        return await self.post(
            f"/walletsolidity/{_check_name(name)}", json_body, purpose=purpose, retry=retry, deadline_s=deadline_s
        )

    # -- the retry loop -----------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None,
        json_body: Any,
        purpose: str,
        retry: bool | None,
        deadline_s: float | None,
    ) -> Any:
        _check_path(path)
        deadline = _deadline(deadline_s)
        retrying = (path not in BROADCAST_PATHS) if retry is None else retry
        attempts = self._retry.max_attempts if retrying else 1
        last: TronGridError | None = None
        for attempt in range(1, attempts + 1):
            await self._wait_out_throttling(deadline, last)
            if deadline is not None and time.monotonic() >= deadline:
                if last is not None:
                    raise last
                raise DeadlineExceeded(f"no time left to call TronGrid {path}")
            try:
                probe = self.breaker.acquire()
            except TronGridUnavailable as open_error:
                raise open_error from last
            timeout_s = self._attempt_timeout_s(deadline)
            settled = False
            try:
                result = await self._attempt(method, path, params, json_body, purpose, timeout_s)
                self.breaker.record_success(probe)
                settled = True
                return result
            except TronGridError as error:
                retryable = _record(self.breaker, error, probe) and not self._tor_known_down(error)
                settled = True
                if isinstance(error, TronGridThrottled) and error.retry_after_s:
                    # TronGrid asked this client, not this call, to pause.
                    self._throttled_until = max(self._throttled_until, time.monotonic() + error.retry_after_s)
                if not retryable or attempt == attempts:
                    raise
                last = error
                delay_s = self._delay_before_retry_s(error, attempt, deadline)
                _log.info(
                    "TronGrid %s %s failed (%s); retry %d of %d in %.2f s",
                    method, path, error.reason, attempt, attempts - 1, delay_s,
                )
            finally:
                if not settled:  # ProxyNotConfigured, cancellation: says nothing about TronGrid
                    self.breaker.release(probe)
            await asyncio.sleep(delay_s)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _attempt(
        self, method: str, path: str, params: Mapping[str, str | int] | None, json_body: Any, purpose: str, timeout_s: float
    ) -> Any:
        session = self._proxy.session(purpose)
        self.stats.requests += 1
        try:
            async with session.request(
                method,
                self._base_url + path,
                params=params,
                json=json_body,
                headers=self._headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout_s, sock_connect=timeout_s),
            ) as response:
                body = await response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except ProxyNotConfigured:
            raise
        except DestinationUnreachable as exc:
            # Tor works but its exit could not reach TronGrid: that is TronGrid's reachability, for the breaker.
            raise TronGridUnavailable(f"TronGrid not reachable through Tor: {exc.message}", reason=exc.reason) from exc
        except TorProxyError as exc:
            raise TronGridTorUnavailable(
                f"TronGrid not reachable through Tor: {exc.message}", reason=exc.reason, retry_after_s=exc.retry_after_s
            ) from exc
        except TimeoutError as exc:
            raise TronGridUnavailable(
                f"TronGrid did not answer {path} within {timeout_s:.3g} s", reason="TRONGRID_TIMEOUT"
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise TronGridUnavailable(
                f"connection to TronGrid failed during {path}: {type(exc).__name__}", reason="TRONGRID_CONNECTION_FAILED"
            ) from exc
        if status == 429:
            self.stats.throttled += 1
        return interpret(status, body, retry_after)

    def _tor_known_down(self, error: TronGridError) -> bool:
        """Whether tor_proxy's health gate refuses every connection now: retrying before it reopens only burns
        the caller's deadline, so such a failure is answered at once."""
        return isinstance(error, TronGridTorUnavailable) and bool(getattr(self._proxy, "unavailable_reason", None))

    def _attempt_timeout_s(self, deadline: float | None) -> float:
        if deadline is None:
            return self._timeout_s
        return min(self._timeout_s, max(deadline - time.monotonic(), 0.001))

    def _delay_before_retry_s(self, error: TronGridError, attempt: int, deadline: float | None) -> float:
        """How long to wait before the next attempt; raises `error` when that wait is not allowed."""
        policy = self._retry
        hinted = error.retry_after_s if isinstance(error, TronGridUnavailable) else None
        if hinted is not None:
            if hinted > policy.max_retry_after_s:
                raise error
            delay_s = hinted + self._rng.uniform(0.0, policy.base_delay_s)
        else:
            delay_s = policy.backoff_s(attempt, self._rng)
        if deadline is not None and time.monotonic() + delay_s >= deadline:
            raise error
        return delay_s

    async def _wait_out_throttling(self, deadline: float | None, last: TronGridError | None) -> None:
        """Wait while TronGrid asked this client to pause, or fail fast if the pause is too long."""
        wait_s = self._throttled_until - time.monotonic()
        if wait_s <= 0:
            return
        if wait_s > self._retry.max_retry_after_s or (deadline is not None and time.monotonic() + wait_s >= deadline):
            raise TronGridThrottled(
                f"TronGrid asked for a pause of {wait_s:.1f} s more", retry_after_s=wait_s
            ) from last
        await asyncio.sleep(wait_s)


def _deadline(deadline_s: float | None) -> float | None:
    """The monotonic time by which the call must be over: `deadline_s` from now, or the caller's RPC
    deadline (`lucid_tron.context.deadlines`, less the margin needed to answer), whichever comes first."""
    now = time.monotonic()
    candidates = [] if deadline_s is None else [now + deadline_s]
    ambient_s = deadlines.remaining()
    if ambient_s is not None:
        candidates.append(now + ambient_s - deadlines.MARGIN_S)
    return min(candidates) if candidates else None


def _record(breaker: CircuitBreaker, error: TronGridError, probe: bool) -> bool:
    """Tell the breaker what `error` says about TronGrid's health; return whether a retry may help."""
    if isinstance(error, (TronGridThrottled, TronGridNodeBusy, TronGridTorUnavailable)):
        breaker.release(probe)  # a quota signal or a local Tor failure: not TronGrid being down
        return True
    if isinstance(error, TronGridBadResponse) and not 200 <= error.status < 300:
        breaker.record_success(probe)  # a clean 4xx: TronGrid is up, the request is wrong
        return False
    if isinstance(error, TronGridUnavailable):
        breaker.record_failure(probe)
        return True
    breaker.record_success(probe)  # the node answered and refused: it is healthy
    return False


def _check_base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"base_url must be http(s)://host[:port][/prefix], got {url!r}")
    if parts.username or parts.password:
        raise ValueError("base_url must not carry credentials: use api_key")
    return url.rstrip("/")


def _check_path(path: str) -> None:
    """Refuse a path that could reach another resource than it names: each segment is plain characters (no '..',
    '.', '%' escape, '?', '#' or empty segment), /wallet and /walletsolidity take one API name, and the identifier
    after /v1/accounts, /v1/contracts and /v1/transactions is a valid address or txid."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"path must be an absolute path such as /wallet/getnowblock, got {path!r}")
    segments = path[1:].split("/")
    for segment in segments:
        if not _SEGMENT.fullmatch(segment) or segment in (".", ".."):
            raise ValueError(
                f"path {path!r} has a segment {segment!r} that is not plain letters, digits, '_', '-', '.'"
            )
    if segments[0] in ("wallet", "walletsolidity") and (len(segments) != 2 or not _API_NAME.fullmatch(segments[1])):
        raise ValueError(f"path {path!r} must be /{segments[0]}/<api name>")
    if segments[0] == "v1" and len(segments) > 2 and segments[1] in _V1_IDENTIFIERS:
        what, valid = _V1_IDENTIFIERS[segments[1]]
        if not valid(segments[2]):
            raise ValueError(f"path {path!r}: /v1/{segments[1]}/ must be followed by {what}, got {segments[2]!r}")


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _API_NAME.fullmatch(name):
        raise ValueError(f"expected an API name such as 'getnowblock', got {name!r}")
    return name

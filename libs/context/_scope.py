"""The request scope of the RPC being handled: its request id, deadline and caller's principal, each worked out on
first use.

The mesh opens a scope per RPC (one small object in one contextvar) and nothing more: most calls never log, never
fail and never call onwards, so reading the caller's metadata, validating or making a request id and computing a
deadline are left to the first code that asks (`current_request_id()`, `deadlines.remaining()`). The principal is
read by the ACL check of every call on a TLS server, and kept for the code below it (`principal()`). No grpc here:
the scope reads the RPC through three methods every grpc.aio ServicerContext has (`RpcSource`).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, Protocol

REQUEST_ID_HEADER = "x-request-id"

# Where grpc core puts the verified client certificate's URI SAN when the certificate has exactly one (the SPIFFE
# id, e.g. spiffe://lucid/tron/payout-router); a certificate with none or several URIs has no principal.
PRINCIPAL_PROPERTY = "peer_spiffe_id"

_UNREAD = object()

# A caller-supplied id ends up in every log line of the request: accept only short, printable ids so a caller
# cannot inject fake log fields or flood the logs. Anything else is replaced by a fresh id.
_ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


class RpcSource(Protocol):
    """What the scope reads of an incoming RPC (a grpc.aio ServicerContext is one)."""

    def invocation_metadata(self) -> Sequence[tuple[str, Any]] | None: ...

    def time_remaining(self) -> float | None: ...

    def auth_context(self) -> Mapping[str, Iterable[bytes]]: ...


class RequestScope:
    """One RPC's request id, deadline and principal. `id_used` tells the mesh whether the id was read (so must be
    echoed)."""

    __slots__ = ("_deadline", "_default_s", "_opened_at", "_principal", "_request_id", "_source")

    def __init__(self, source: RpcSource, default_s: float | None) -> None:
        self._source = source
        self._default_s = default_s
        self._opened_at = time.monotonic()
        self._request_id: str | None = None
        self._deadline: float | None = None
        self._principal: object = _UNREAD

    @property
    def id_used(self) -> bool:
        return self._request_id is not None

    @property
    def request_id(self) -> str:
        """The caller's id when it sent a well-formed one, else a fresh one (16 random bytes as 32 hex digits)."""
        if self._request_id is None:
            offered: object = None
            for key, value in self._source.invocation_metadata() or ():
                if key == REQUEST_ID_HEADER:
                    offered = value
                    break
            if isinstance(offered, str) and _ACCEPTABLE_REQUEST_ID.fullmatch(offered):
                self._request_id = offered
            else:
                # Like uuid4().hex at a quarter of its cost.
                self._request_id = os.urandom(16).hex()
        return self._request_id

    @property
    def deadline(self) -> float | None:
        """The caller's deadline or the service's default (CALL_TIMEOUT_S) from the start of the RPC, the sooner."""
        if self._deadline is None:
            own = None if self._default_s is None else self._opened_at + self._default_s
            left = self._source.time_remaining()
            callers = None if left is None else time.monotonic() + left
            if own is None or callers is None:
                self._deadline = own if callers is None else callers
            else:
                self._deadline = min(own, callers)
        return self._deadline


    @property
    def principal(self) -> str | None:
        """The caller's identity from its verified certificate ("spiffe://lucid/operator/alice"); None without one
        (plaintext, or a certificate without a single URI SAN)."""
        if self._principal is _UNREAD:
            values = self._source.auth_context().get(PRINCIPAL_PROPERTY)
            first = next(iter(values), None) if values else None
            self._principal = first.decode("utf-8", "replace") if first else None
        return self._principal  # type: ignore[return-value]


_scope: ContextVar[RequestScope | None] = ContextVar("lucid_request_scope", default=None)


def open_scope(source: RpcSource, default_s: float | None) -> RequestScope:
    """Start the scope of the RPC `source` in the current context (the RPC's own task); returns it."""
    scope = RequestScope(source, default_s)
    _scope.set(scope)
    return scope


def current_scope() -> RequestScope | None:
    """The scope of the RPC being handled, or None outside an RPC."""
    return _scope.get()


def principal() -> str | None:
    """The verified principal of the caller of the RPC being handled; None outside an RPC or without an identity."""
    scope = _scope.get()
    return None if scope is None else scope.principal

"""Everything the TronGrid client raises, in one place.

Each class is also a class of the domain hierarchy, so the mesh runtime maps it without knowing TronGrid::

    lucid_tron.errors.LucidError
    └── TronGridError                  base of everything below
        ├── TronGridUnavailable        (+ errors.Unavailable) no usable answer now: connection or Tor
        │   │                          failure, timeout, 5xx, circuit breaker open; `retry_after_s` when known
        │   ├── TronGridTorUnavailable Tor, not TronGrid, failed: the proxy is down, not bootstrapped or
        │   │                          refusing (`reason` is tor_proxy's); says nothing about TronGrid's health
        │   ├── TronGridThrottled      TronGrid's quota: 429, 403, or a "suspended for N s" body
        │   ├── TronGridNodeBusy       the node answered SERVER_BUSY, NO_CONNECTION or
        │   │                          NOT_ENOUGH_EFFECTIVE_CONNECTION (`code`, `node_message`)
        │   └── TronGridBadResponse    an answer we cannot use: unexpected HTTP status, not JSON (`status`)
        └── TronGridNodeError          (+ errors.FailedPrecondition) the node refused the request:
                                       `{"Error": ...}` or `{"code": ..., "message": <hex>}`, often with
                                       HTTP 200 (`code`, `node_message`, `txid`)

`tor_proxy.ProxyNotConfigured` passes through unchanged: it is a deployment error, not TronGrid's.
A broadcast answered DUP_TRANSACTION_ERROR is a `TronGridNodeError` with that `code`: the caller
decides that it means "already accepted".
"""

from __future__ import annotations

from lucid_tron.errors import FailedPrecondition, LucidError, Unavailable

__all__ = [
    "TronGridBadResponse",
    "TronGridError",
    "TronGridNodeBusy",
    "TronGridNodeError",
    "TronGridThrottled",
    "TronGridTorUnavailable",
    "TronGridUnavailable",
]


class TronGridError(LucidError):
    """Base of every error of the TronGrid client."""

    reason = "TRONGRID_ERROR"


class TronGridUnavailable(TronGridError, Unavailable):
    """TronGrid gave no usable answer now; trying again later may work (`retry_after_s` if known)."""

    reason = "TRONGRID_UNAVAILABLE"


class TronGridThrottled(TronGridUnavailable):
    """TronGrid throttled us (429, 403 or a "suspended for N s" message). Backed off, never a fault."""

    reason = "TRONGRID_THROTTLED"


class TronGridNodeBusy(TronGridUnavailable):
    """The node answered but cannot take the request now (SERVER_BUSY and the like)."""

    reason = "TRONGRID_NODE_BUSY"

    def __init__(self, code: str, node_message: str) -> None:
        super().__init__(f"TRON node busy: {code}: {node_message}" if node_message else f"TRON node busy: {code}")
        self.code = code
        self.node_message = node_message


class TronGridTorUnavailable(TronGridUnavailable):
    """The way out failed before TronGrid was reached: Tor is down, bootstrapping, or refused the connection.

    Kept apart from TronGrid's own failures so that a Tor outage does not open TronGrid's circuit breaker
    (which would keep calls failing for its whole open period after Tor is back).
    """

    reason = "TRONGRID_TOR_UNAVAILABLE"


class TronGridBadResponse(TronGridUnavailable):
    """TronGrid answered something we cannot use: an unexpected HTTP status or a body that is not JSON.

    `status` is the HTTP status.
    """

    reason = "TRONGRID_BAD_RESPONSE"

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class TronGridNodeError(TronGridError, FailedPrecondition):
    """The node refused the request and said why.

    `code` is TRON's code (e.g. "CONTRACT_VALIDATE_ERROR", "SIGERROR", "DUP_TRANSACTION_ERROR"), or None
    for an `{"Error": "..."}` body; `node_message` is the node's message, hex-decoded when it was hex;
    `txid` is echoed by broadcasts.
    """

    reason = "TRONGRID_NODE_ERROR"

    def __init__(self, code: str | None, node_message: str, *, txid: str | None = None) -> None:
        text = f"{code}: {node_message}" if code else node_message
        super().__init__(f"TRON node refused the request: {text}")
        self.code = code
        self.node_message = node_message
        self.txid = txid

"""An async TronGrid HTTP client that reaches the network only through tor_proxy, with retries and a circuit breaker.

    async with TorProxy(TorConfig.from_env()) as tor:
        trongrid = TronGridClient("https://api.trongrid.io", tor, api_key=key)
        block = await trongrid.solidity("getnowblock")                        # /walletsolidity/getnowblock
        account = await trongrid.wallet("getaccount", {"address": addr, "visible": True})
        sent = await trongrid.wallet("broadcasttransaction", signed, purpose="broadcast", retry=True)

    TronGridClient      get / post / wallet / solidity; returns parsed JSON; bounded by the caller's
                        RPC deadline (lucid_tron.context.deadlines) or `deadline_s`
    RetryPolicy         attempts and backoff (full jitter), the longest Retry-After worth waiting for
    CircuitBreaker      closed -> open -> half-open, shared by all calls of a client (`client.breaker`)
    BreakerPolicy       when it opens and for how long;  BreakerState: its states
    BROADCAST_PATHS     the paths not retried unless the caller says so
    SessionProvider     what the client needs from a proxy: `session(purpose)`
    exceptions          TronGridError > TronGridUnavailable (> Throttled, NodeBusy, BadResponse), TronGridNodeError
"""

from ._breaker import BreakerPolicy, BreakerState, CircuitBreaker
from ._client import BROADCAST_PATHS, RetryPolicy, SessionProvider, TronGridClient
from .exceptions import (
    TronGridBadResponse,
    TronGridError,
    TronGridNodeBusy,
    TronGridNodeError,
    TronGridThrottled,
    TronGridTorUnavailable,
    TronGridUnavailable,
)

__all__ = [
    "BROADCAST_PATHS",
    "BreakerPolicy",
    "BreakerState",
    "CircuitBreaker",
    "RetryPolicy",
    "SessionProvider",
    "TronGridBadResponse",
    "TronGridClient",
    "TronGridError",
    "TronGridNodeBusy",
    "TronGridNodeError",
    "TronGridThrottled",
    "TronGridTorUnavailable",
    "TronGridUnavailable",
]

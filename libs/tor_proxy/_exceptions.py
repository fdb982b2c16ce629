"""Everything `tor_proxy` raises, in one place.

A failure to get out through Tor is an `Unavailable` of the domain hierarchy, so the mesh runtime answers
UNAVAILABLE for it without knowing about Tor. A bad configuration is a `ValueError`: it stops the
process at start, it is never answered to a caller::

    lucid_tron.errors.Unavailable
    ├── TorProxyError               nothing reached the destination through Tor         TOR_PROXY_ERROR
    │   ├── ProxyNotConfigured      Tor is required and no SOCKS endpoint is configured TOR_PROXY_NOT_CONFIGURED
    │   │                           (raised before any socket is opened)
    │   ├── ProxyUnavailable        the SOCKS port refused, timed out, rejected our     TOR_PROXY_UNAVAILABLE
    │   │                           credentials or did not speak SOCKS5; or the health
    │   │                           monitor knows Tor is down, not bootstrapped or has
    │   │                           no usable circuit (refused before any socket)
    │   └── DestinationUnreachable  the proxy answered but could not reach the          TOR_DESTINATION_UNREACHABLE
    │                               destination (a SOCKS5 error reply), or the
    │                               destination closed before answering
    └── TorControlError             Tor's control port cannot be used                   TOR_CONTROL_ERROR
        ├── ControlPortUnavailable  refused, closed, no answer in time, or the port     TOR_CONTROL_UNAVAILABLE
        │                           does not speak Tor's control protocol
        ├── ControlAuthFailed       tor refused our password or cookie, the cookie      TOR_CONTROL_AUTH_FAILED
        │                           file is missing or unreadable, or tor wants a
        │                           method that is not configured
        └── NewnymRateLimited       tor takes NEWNYM at most once per 10 s; the         TOR_NEWNYM_RATE_LIMITED
                                    caller asked not to wait (`retry_after_s`)

    ValueError
    └── TorConfigError              a setting is invalid; the message names the environment variable

None of these is ever followed by a direct connection: there is no fallback path. The control-port errors say
nothing about requests: those only ever go through the SOCKS port, whether or not the control port works.
"""

from __future__ import annotations

from lucid_tron.errors import Unavailable

__all__ = [
    "ControlAuthFailed",
    "ControlPortUnavailable",
    "DestinationUnreachable",
    "NewnymRateLimited",
    "ProxyNotConfigured",
    "ProxyUnavailable",
    "TorConfigError",
    "TorControlError",
    "TorProxyError",
]


class TorProxyError(Unavailable):
    """Nothing reached the destination through Tor; no request left this machine any other way."""

    reason = "TOR_PROXY_ERROR"


class ProxyNotConfigured(TorProxyError):
    """Tor is required (the default) and no SOCKS endpoint is configured.

    Raised before any socket is opened, so a misconfigured node sends nothing at all.
    """

    reason = "TOR_PROXY_NOT_CONFIGURED"


class ProxyUnavailable(TorProxyError):
    """The Tor SOCKS port could not be used: connection refused, no answer in time, credentials
    rejected, or the peer does not speak SOCKS5. Also raised before any socket is opened while the
    health monitor knows that Tor is down, still bootstrapping or without a usable circuit, so calls
    fail at once instead of waiting for their deadline (`retry_after_s`: when it checks again)."""

    reason = "TOR_PROXY_UNAVAILABLE"


class DestinationUnreachable(TorProxyError):
    """The SOCKS port answered but reported that it could not reach the destination.

    `socks_reply` is the SOCKS5 reply code (RFC 1928 section 6: 1 general failure, 4 host unreachable,
    5 connection refused, 6 TTL expired, ...), which Tor uses for failed circuits and exits too; None
    when the connection was made and then failed (closed before an answer).
    """

    reason = "TOR_DESTINATION_UNREACHABLE"

    def __init__(self, message: str, *, socks_reply: int | None = None) -> None:
        super().__init__(message)
        self.socks_reply = socks_reply


class TorControlError(Unavailable):
    """Tor's control port cannot be used for bootstrap status, circuit status or NEWNYM."""

    reason = "TOR_CONTROL_ERROR"


class ControlPortUnavailable(TorControlError):
    """The control port refused the connection, closed it, did not answer in time, or is not a Tor control
    port (e.g. the SOCKS port or an HTTP server configured by mistake)."""

    reason = "TOR_CONTROL_UNAVAILABLE"


class ControlAuthFailed(TorControlError):
    """Tor did not let us in: wrong password, missing/unreadable/wrong cookie file, or tor asks for a method
    that is not configured. The message names the setting to fix; it never contains the secret."""

    reason = "TOR_CONTROL_AUTH_FAILED"


class NewnymRateLimited(TorControlError):
    """Tor performs NEWNYM at most once per 10 s; the caller asked not to wait. `retry_after_s` says when to."""

    reason = "TOR_NEWNYM_RATE_LIMITED"


class TorConfigError(ValueError):
    """A Tor setting is invalid. The message starts with the environment variable to fix."""

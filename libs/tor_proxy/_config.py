"""`TorConfig`: where Tor's SOCKS port is and how strictly to use it, validated when built."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .exceptions import TorConfigError

__all__ = ["TorConfig"]

# The environment variable behind each field, so every validation error names what to fix.
_ENV = {
    "socks_host": "TOR_PROXY_HOST",
    "socks_port": "TOR_PROXY_SOCKS_PORT",
    "control_port": "TOR_PROXY_CONTROL_PORT",
    "direct": "USE_TOR_FOR_EXTERNAL_CALLS",
    "prevent_dns_leaks": "TOR_PREVENT_DNS_LEAKS",
    "connectivity_timeout_s": "TOR_CONNECTIVITY_TIMEOUT",
    "max_latency_ms": "TOR_MAX_LATENCY_MS",
    "circuit_rotation_enabled": "TOR_CIRCUIT_ROTATION_ENABLED",
    "circuit_rotation_interval_s": "TOR_CIRCUIT_ROTATION_INTERVAL",
    "health_check_interval_s": "TOR_HEALTH_CHECK_INTERVAL",
}

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})

# aiohttp-socks rejects the socks5h:// scheme; for us both mean SOCKS5 with the hostname sent to the
# proxy, because remote DNS is not optional when Tor is used.
_SOCKS_SCHEMES = frozenset({"socks5", "socks5h"})


@dataclass(frozen=True, kw_only=True)
class TorConfig:
    """How this process reaches the internet. Every field has the default a container runs with.

    The default is TOR_ONLY: every external request goes through the SOCKS port at
    `socks_host:socks_port` with remote DNS, and fails closed when that port cannot be used.
    `direct=True` turns Tor off; it is an explicit decision for a devnet on loopback, logged as a
    WARNING when a `TorProxy` starts. It is never taken silently.

    `socks_host=None` means "no proxy configured": with Tor required, every request then raises
    `ProxyNotConfigured` before any socket is opened.
    """

    #: Host of Tor's SOCKS port (containers: "tor-proxy"). Resolved locally: it is our own network's name.
    socks_host: str | None = "127.0.0.1"
    socks_port: int = 9050
    #: Tor's control port on `socks_host` (circuit rotation and health, used by a later version).
    control_port: int = 9051
    #: True: connect directly, no Tor. Only for a devnet on loopback; the node reveals its address.
    direct: bool = False
    #: Hostnames are resolved by Tor, never locally. Must stay True when Tor is used.
    prevent_dns_leaks: bool = True
    #: Seconds a request through Tor may take by default (connect + answer), and a connectivity check.
    connectivity_timeout_s: float = 30.0
    #: A connectivity check slower than this reports the path as slow.
    max_latency_ms: int = 5000
    #: Rotate circuits every `circuit_rotation_interval_s` seconds (NEWNYM; a later version).
    circuit_rotation_enabled: bool = True
    circuit_rotation_interval_s: float = 3600.0
    #: Seconds between health probes of the SOCKS port (used by the health component).
    health_check_interval_s: float = 60.0

    def __post_init__(self) -> None:
        if self.socks_host is not None:
            _check_host(self.socks_host, _ENV["socks_host"])
        _check_port(self.socks_port, "socks_port")
        _check_port(self.control_port, "control_port")
        for name in ("direct", "prevent_dns_leaks", "circuit_rotation_enabled"):
            if not isinstance(getattr(self, name), bool):
                raise TorConfigError(f"{_ENV[name]} ({name}) must be a bool, got {getattr(self, name)!r}")
        for name in ("connectivity_timeout_s", "circuit_rotation_interval_s", "health_check_interval_s"):
            _check_seconds(getattr(self, name), name)
        if isinstance(self.max_latency_ms, bool) or not isinstance(self.max_latency_ms, int) or self.max_latency_ms <= 0:
            raise TorConfigError(
                f"{_ENV['max_latency_ms']} (max_latency_ms) must be a positive integer, got {self.max_latency_ms!r}"
            )
        if not self.direct and not self.prevent_dns_leaks:
            raise TorConfigError(
                "TOR_PREVENT_DNS_LEAKS (prevent_dns_leaks) cannot be false while Tor is used: resolving "
                "names locally tells the local resolver every host this node talks to"
            )

    # -- derived views ------------------------------------------------------------------------------

    @property
    def configured(self) -> bool:
        """True when a SOCKS endpoint is set (or Tor is explicitly off)."""
        return self.direct or self.socks_host is not None

    @property
    def remote_dns(self) -> bool:
        """True when hostnames are sent to the proxy unresolved (always, when Tor is used)."""
        return not self.direct

    @property
    def proxy_url(self) -> str | None:
        """`socks5://host:port` of the SOCKS endpoint (for logs), or None when there is none in use."""
        if self.direct or self.socks_host is None:
            return None
        host = f"[{self.socks_host}]" if ":" in self.socks_host else self.socks_host
        return f"socks5://{host}:{self.socks_port}"

    # -- from the environment -------------------------------------------------------------------------

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TorConfig:
        """Read the variables the deployment sets; unset ones take the defaults above.

        - `TOR_PROXY` (`socks5h://host:port` or `socks5://host:port`) sets host and port at once; if
          `TOR_PROXY_HOST` / `TOR_PROXY_SOCKS_PORT` are also set they must agree with it.
        - `TOR_PROXY_HOST=""` (set but empty) means no proxy is configured: requests fail closed.
        - Tor is turned off only by `USE_TOR_FOR_EXTERNAL_CALLS=false` together with
          `ALLOW_DIRECT_EXTERNAL_CALLS=true`; either alone is refused or has no effect, and
          `TOR_ONLY=true` with Tor turned off is a contradiction that is refused. `TOR_ONLY=false` on
          its own changes nothing: there is no mode that falls back to a direct connection.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}

        host: str | None = "127.0.0.1"
        host_set = "TOR_PROXY_HOST" in env
        if host_set:
            host = env["TOR_PROXY_HOST"].strip() or None
        port_text = env.get("TOR_PROXY_SOCKS_PORT")
        port = _parse_int(port_text, "TOR_PROXY_SOCKS_PORT") if port_text is not None else 9050

        proxy_url = env.get("TOR_PROXY", "").strip()
        if proxy_url:
            url_host, url_port = _parse_proxy_url(proxy_url)
            if host_set and host != url_host:
                raise TorConfigError(
                    f"TOR_PROXY ({proxy_url!r}) and TOR_PROXY_HOST ({env['TOR_PROXY_HOST']!r}) disagree: set one"
                )
            if port_text is not None and port != url_port:
                raise TorConfigError(
                    f"TOR_PROXY ({proxy_url!r}) and TOR_PROXY_SOCKS_PORT ({port_text!r}) disagree: set one"
                )
            host, port = url_host, url_port
        values["socks_host"] = host
        values["socks_port"] = port

        if (text := env.get("TOR_PROXY_CONTROL_PORT")) is not None:
            values["control_port"] = _parse_int(text, "TOR_PROXY_CONTROL_PORT")

        use_tor = _parse_bool(env.get("USE_TOR_FOR_EXTERNAL_CALLS"), "USE_TOR_FOR_EXTERNAL_CALLS", default=True)
        allow_direct = _parse_bool(env.get("ALLOW_DIRECT_EXTERNAL_CALLS"), "ALLOW_DIRECT_EXTERNAL_CALLS", default=False)
        tor_only = _parse_bool(env.get("TOR_ONLY"), "TOR_ONLY", default=True)
        if not use_tor:
            if "TOR_ONLY" in env and tor_only:
                raise TorConfigError(
                    "USE_TOR_FOR_EXTERNAL_CALLS=false contradicts TOR_ONLY=true: Tor stays required"
                )
            if not allow_direct:
                raise TorConfigError(
                    "USE_TOR_FOR_EXTERNAL_CALLS=false needs ALLOW_DIRECT_EXTERNAL_CALLS=true as well: "
                    "without Tor this node reveals its address to every host it calls"
                )
        values["direct"] = not use_tor

        values["prevent_dns_leaks"] = _parse_bool(
            env.get("TOR_PREVENT_DNS_LEAKS"), "TOR_PREVENT_DNS_LEAKS", default=True
        )
        values["circuit_rotation_enabled"] = _parse_bool(
            env.get("TOR_CIRCUIT_ROTATION_ENABLED"), "TOR_CIRCUIT_ROTATION_ENABLED", default=True
        )
        for name in ("connectivity_timeout_s", "circuit_rotation_interval_s", "health_check_interval_s"):
            if (text := env.get(_ENV[name])) is not None:
                values[name] = _parse_float(text, _ENV[name])
        if (text := env.get("TOR_MAX_LATENCY_MS")) is not None:
            values["max_latency_ms"] = _parse_int(text, "TOR_MAX_LATENCY_MS")
        return cls(**values)  # type: ignore[arg-type]


def _parse_proxy_url(url: str) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TorConfigError(f"TOR_PROXY: {url!r} is not a valid URL ({exc})") from None
    if parts.scheme.lower() not in _SOCKS_SCHEMES:
        raise TorConfigError(
            f"TOR_PROXY: scheme must be socks5h:// or socks5:// (Tor's SOCKS5 port), got {parts.scheme or 'none'!r}"
        )
    if parts.username is not None or parts.password is not None:
        raise TorConfigError(
            "TOR_PROXY must not carry credentials: tor_proxy sets a SOCKS username per purpose to isolate circuits"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise TorConfigError(f"TOR_PROXY: expected socks5h://host:port, got {url!r}")
    if not parts.hostname:
        raise TorConfigError(f"TOR_PROXY: no host in {url!r}")
    host = parts.hostname
    _check_host(host, "TOR_PROXY")
    return host, 9050 if port is None else port


def _check_host(host: object, env_name: str) -> None:
    if not isinstance(host, str) or not host or any(c.isspace() or c in "/@?#" for c in host):
        raise TorConfigError(f"{env_name}: not a host name or address: {host!r}")


def _check_port(port: object, field: str) -> None:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise TorConfigError(f"{_ENV[field]} ({field}) must be a TCP port 1..65535, got {port!r}")


def _check_seconds(value: object, field: str) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise TorConfigError(f"{_ENV[field]} ({field}) must be a positive number of seconds, got {value!r}")


def _parse_bool(text: str | None, env_name: str, *, default: bool) -> bool:
    if text is None or not text.strip():
        return default
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise TorConfigError(f"{env_name} must be true or false, got {text!r}")


def _parse_int(text: str, env_name: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise TorConfigError(f"{env_name} must be an integer, got {text!r}") from None


def _parse_float(text: str, env_name: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise TorConfigError(f"{env_name} must be a number of seconds, got {text!r}") from None

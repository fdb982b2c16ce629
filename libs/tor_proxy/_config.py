"""`TorConfig`: where Tor's SOCKS port is and how strictly to use it, validated when built."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ._exceptions import TorConfigError

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
    "control_cookie_path": "TOR_CONTROL_COOKIE_PATH",
    "control_password": "TOR_CONTROL_PASSWORD",
}

#: Tor performs NEWNYM at most once per this many seconds (MAX_SIGNEWNYM_RATE in tor's source); a rotation
#: interval below it could not be honoured.
NEWNYM_MIN_INTERVAL_S = 10.0


@dataclass(frozen=True, kw_only=True)
class TorConfig:
    """How this process reaches the internet. Every field has the default a container runs with.

    The default is TOR_ONLY: every external request goes through the SOCKS port at
    `socks_host:socks_port` with remote DNS, and fails closed when that port cannot be used.
    `direct=True` turns Tor off; it is an explicit decision for a devnet on loopback, logged as a
    WARNING when a `TorProxy` starts. It is never taken silently.

    `socks_host=None` means "no proxy configured": with Tor required, every request then raises
    `ProxyNotConfigured` before any socket is opened.

    The control port (same host as the SOCKS port) is authenticated with exactly the method configured:
    `control_password`, or the cookie at `control_cookie_path`, or, with neither, the cookie file tor names
    in PROTOCOLINFO (or no authentication, if tor offers that). Setting both is refused: tor would accept
    either, and a wrong one must not be hidden by the other.
    """

    #: Host of Tor's SOCKS port (containers: "tor-proxy"). Resolved locally: it is our own network's name.
    socks_host: str | None = "127.0.0.1"
    socks_port: int = 9050
    #: Tor's control port on `socks_host`: bootstrap and circuit status, NEWNYM.
    control_port: int = 9051
    #: True: connect directly, no Tor. Only for a devnet on loopback; the node reveals its address.
    direct: bool = False
    #: Hostnames are resolved by Tor, never locally. Must stay True when Tor is used.
    prevent_dns_leaks: bool = True
    #: Seconds a request through Tor may take by default (connect + answer), and a connectivity check.
    connectivity_timeout_s: float = 30.0
    #: A connectivity check slower than this reports the path as slow.
    max_latency_ms: int = 5000
    #: Rotate circuits (NEWNYM) every `circuit_rotation_interval_s` seconds, at least NEWNYM_MIN_INTERVAL_S.
    circuit_rotation_enabled: bool = True
    circuit_rotation_interval_s: float = 3600.0
    #: Seconds between health checks (bootstrap, circuits, SOCKS probe) while Tor is up; while it is down
    #: the monitor checks every second or sooner.
    health_check_interval_s: float = 60.0
    #: Tor's control cookie file, when it is not where tor says (e.g. mounted from the tor container).
    control_cookie_path: str | None = None
    #: The control-port password (a secret: TOR_CONTROL_PASSWORD_FILE, /run/secrets/tor_control_password or
    #: TOR_CONTROL_PASSWORD). Never in repr or logs.
    control_password: str | None = field(default=None, repr=False)

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
        if self.circuit_rotation_interval_s < NEWNYM_MIN_INTERVAL_S:
            raise TorConfigError(
                f"TOR_CIRCUIT_ROTATION_INTERVAL (circuit_rotation_interval_s) must be at least "
                f"{NEWNYM_MIN_INTERVAL_S:g} s, tor's NEWNYM rate limit; got {self.circuit_rotation_interval_s!r}"
            )
        if self.control_cookie_path is not None and (
            not isinstance(self.control_cookie_path, str) or not self.control_cookie_path.strip()
        ):
            raise TorConfigError(
                f"TOR_CONTROL_COOKIE_PATH (control_cookie_path) must be a file path, got {self.control_cookie_path!r}"
            )
        if self.control_password is not None and (
            not isinstance(self.control_password, str) or not self.control_password or "\n" in self.control_password
        ):
            raise TorConfigError("TOR_CONTROL_PASSWORD (control_password) must be a non-empty single line")
        if self.control_password is not None and self.control_cookie_path is not None:
            raise TorConfigError(
                "TOR_CONTROL_PASSWORD and TOR_CONTROL_COOKIE_PATH are both set: choose one way to authenticate "
                "to the control port"
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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TorConfig:
        """The configuration `TorSettings` reads from `environ` (default: os.environ) and the secret files;
        raises lucid_tron.config.ConfigError naming every variable to fix."""
        from lucid_tron.config import load_settings

        from ._settings import TorSettings  # it builds TorConfigs: imported here, not at the top

        return load_settings(TorSettings, environ).tor_config


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

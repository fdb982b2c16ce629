"""`TorConfig`: where Tor's SOCKS port is and how strictly to use it, validated when built."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
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
    "control_cookie_path": "TOR_CONTROL_COOKIE_PATH",
    "control_password": "TOR_CONTROL_PASSWORD",
}

#: Tor performs NEWNYM at most once per this many seconds (MAX_SIGNEWNYM_RATE in tor's source); a rotation
#: interval below it could not be honoured.
NEWNYM_MIN_INTERVAL_S = 10.0

# Where compose and Kubernetes mount secrets, as lucid_tron.mesh reads them.
_DEFAULT_SECRETS_DIR = "/run/secrets"

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

    # -- from the environment -------------------------------------------------------------------------

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TorConfig:
        """Read the variables the deployment sets; unset ones take the defaults above.

        - `TOR_PROXY` (`socks5h://host:port` or `socks5://host:port`) sets host and port at once; if
          `TOR_PROXY_HOST` / `TOR_PROXY_SOCKS_PORT` are also set they must agree with it.
        - `TOR_PROXY_HOST=""` (set but empty) means no proxy is configured: requests fail closed.
        - The control password is a secret, read like lucid_tron.mesh reads secrets: the file named by
          `TOR_CONTROL_PASSWORD_FILE`, then `$SECRETS_DIR/tor_control_password` (`/run/secrets` by
          default), then `TOR_CONTROL_PASSWORD`. `TOR_CONTROL_COOKIE_PATH` names the cookie file instead.
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
        if cookie := env.get("TOR_CONTROL_COOKIE_PATH", "").strip():
            values["control_cookie_path"] = cookie
        values["control_password"] = _read_secret(env, "TOR_CONTROL_PASSWORD")
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


def _read_secret(env: Mapping[str, str], name: str) -> str | None:
    """`<name>_FILE`, then `$SECRETS_DIR/<name lower-cased>`, then `<name>`; None when none is set.
    A trailing line break is not part of the secret (echo adds one)."""
    file_var = f"{name}_FILE"
    path: Path | None = None
    if env.get(file_var, "").strip():
        path, variable = Path(env[file_var].strip()), file_var
    else:
        mounted = Path(env.get("SECRETS_DIR") or _DEFAULT_SECRETS_DIR) / name.lower()
        if mounted.is_file():
            path, variable = mounted, name
    if path is None:
        return env.get(name) or None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TorConfigError(f"{variable}: cannot read the secret file {path} ({type(exc).__name__})") from None
    return text.removesuffix("\n").removesuffix("\r") or None


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

"""`TorSettings`: Tor's environment variables as a `lucid_tron.config` settings group, turned into a `TorConfig`.

A service whose settings class lists TorSettings among its bases reaches the internet, through Tor; the CLI and the
deployment tests learn which services do from that, not from a list. Every value is read and checked the way every
other setting is (secret files, every problem named at once, exit 78); the rules that tie several variables together
are below, as ConfigError problems too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from lucid_tron.config import ConfigError, Problem, Settings, setting

from ._config import NEWNYM_MIN_INTERVAL_S, TorConfig

__all__ = ["TorSettings"]

_DEFAULT_HOST = "127.0.0.1"
_DEFAULT_SOCKS_PORT = 9050
# aiohttp-socks rejects the socks5h:// scheme; for us both mean SOCKS5 with the hostname sent to the proxy, because
# remote DNS is not optional when Tor is used.
_SOCKS_SCHEMES = ("socks5h", "socks5")


def _is_host(host: str) -> bool:
    return bool(host) and not any(c.isspace() or c in "/@?#" for c in host)


def _is_socks_url(url: str) -> bool:
    """socks5h://host[:port] with no path (credentials are refused apart, without quoting the URL)."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port outside 0..65535
    except ValueError:
        return False
    return (
        parts.scheme.lower() in _SOCKS_SCHEMES
        and parts.hostname is not None
        and _is_host(parts.hostname)
        and parts.path in ("", "/")
        and not parts.query
        and not parts.fragment
    )


def _positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


def _single_line(text: str) -> bool:
    return "\n" not in text and "\r" not in text


@dataclass(frozen=True, kw_only=True)
class TorSettings(Settings):
    """How this process reaches the internet (see `TorConfig` for each value's meaning); `tor_config` is the result.

    Tor is required unless USE_TOR_FOR_EXTERNAL_CALLS=false *and* ALLOW_DIRECT_EXTERNAL_CALLS=true; TOR_ONLY=true
    beside them is a contradiction, and TOR_ONLY=false alone changes nothing: no mode falls back to a direct
    connection. TOR_PROXY (`socks5h://host:port`) sets host and port at once; TOR_PROXY_HOST / TOR_PROXY_SOCKS_PORT
    set beside it must agree with it.
    """

    tor_proxy: str | None = setting(
        "TOR_PROXY",
        default=None,
        valid_if=(_is_socks_url, "socks5h://host:port or socks5://host:port"),
    )
    tor_proxy_host: str | None = setting(
        "TOR_PROXY_HOST", default=None, valid_if=(_is_host, "a host name or address")
    )  # 127.0.0.1 when neither it nor TOR_PROXY is set
    tor_proxy_socks_port: int | None = setting("TOR_PROXY_SOCKS_PORT", default=None, ge=1, le=65535)  # 9050
    tor_proxy_control_port: int = setting("TOR_PROXY_CONTROL_PORT", default=9051, ge=1, le=65535)
    use_tor_for_external_calls: bool = setting("USE_TOR_FOR_EXTERNAL_CALLS", default=True)
    allow_direct_external_calls: bool = setting("ALLOW_DIRECT_EXTERNAL_CALLS", default=False)
    # None: not set. Only an explicit TOR_ONLY=true can contradict turning Tor off.
    tor_only: bool | None = setting("TOR_ONLY", default=None)
    tor_prevent_dns_leaks: bool = setting("TOR_PREVENT_DNS_LEAKS", default=True)
    tor_connectivity_timeout_s: float = setting(
        "TOR_CONNECTIVITY_TIMEOUT", default=30.0, valid_if=(_positive, "a positive number of seconds")
    )
    tor_max_latency_ms: int = setting("TOR_MAX_LATENCY_MS", default=5000, ge=1)
    tor_circuit_rotation_enabled: bool = setting("TOR_CIRCUIT_ROTATION_ENABLED", default=True)
    tor_circuit_rotation_interval_s: float = setting(
        "TOR_CIRCUIT_ROTATION_INTERVAL",
        default=3600.0,
        valid_if=(
            lambda seconds: seconds >= NEWNYM_MIN_INTERVAL_S,
            f"at least {NEWNYM_MIN_INTERVAL_S:g} s, tor's NEWNYM rate limit",
        ),
    )
    tor_health_check_interval_s: float = setting(
        "TOR_HEALTH_CHECK_INTERVAL", default=60.0, valid_if=(_positive, "a positive number of seconds")
    )
    tor_control_cookie_path: str | None = setting("TOR_CONTROL_COOKIE_PATH", default=None)
    tor_control_password: str | None = setting(
        "TOR_CONTROL_PASSWORD", default=None, secret=True, valid_if=(_single_line, "a single line")
    )

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        try:
            super().__post_init__()
        except ConfigError as error:
            problems += error.problems
        problems += self._rules_between_variables()
        if problems:
            raise ConfigError(problems)

    @property
    def tor_required(self) -> bool:
        """False only when Tor was turned off the one way that is accepted (a devnet on loopback)."""
        return self.use_tor_for_external_calls or not self.allow_direct_external_calls

    @property
    def tor_config(self) -> TorConfig:
        """What `TorRuntime` takes."""
        url = self._proxy_url()
        return TorConfig(
            socks_host=url.hostname if url is not None else (self.tor_proxy_host or _DEFAULT_HOST),
            socks_port=_socks_port(url) if url is not None else (self.tor_proxy_socks_port or _DEFAULT_SOCKS_PORT),
            control_port=self.tor_proxy_control_port,
            direct=not self.use_tor_for_external_calls,
            prevent_dns_leaks=self.tor_prevent_dns_leaks,
            connectivity_timeout_s=self.tor_connectivity_timeout_s,
            max_latency_ms=self.tor_max_latency_ms,
            circuit_rotation_enabled=self.tor_circuit_rotation_enabled,
            circuit_rotation_interval_s=self.tor_circuit_rotation_interval_s,
            health_check_interval_s=self.tor_health_check_interval_s,
            control_cookie_path=self.tor_control_cookie_path,
            control_password=self.tor_control_password,
        )

    def _proxy_url(self) -> SplitResult | None:
        return urlsplit(self.tor_proxy) if self.tor_proxy is not None and _is_socks_url(self.tor_proxy) else None

    def _rules_between_variables(self) -> list[Problem]:
        """What breaks a rule between variables (a TOR_PROXY wrong on its own is not compared with the others).
        A group extending this one adds its own rules by extending this method, so every problem is listed at once."""
        problems = []
        url = self._proxy_url()
        if url is not None:
            if url.username is not None or url.password is not None:
                problems.append(
                    Problem(
                        "TOR_PROXY",
                        "must not carry credentials: tor_proxy sets a SOCKS username per purpose to isolate circuits",
                    )
                )
            if self.tor_proxy_host is not None and self.tor_proxy_host.lower() != url.hostname:
                problems.append(
                    Problem("TOR_PROXY", f"disagrees with TOR_PROXY_HOST ({self.tor_proxy_host!r}): set one")
                )
            if self.tor_proxy_socks_port is not None and self.tor_proxy_socks_port != _socks_port(url):
                problems.append(
                    Problem("TOR_PROXY", f"disagrees with TOR_PROXY_SOCKS_PORT ({self.tor_proxy_socks_port}): set one")
                )
        if not self.use_tor_for_external_calls:
            if self.tor_only:
                problems.append(
                    Problem("USE_TOR_FOR_EXTERNAL_CALLS", "false contradicts TOR_ONLY=true: Tor stays required")
                )
            if not self.allow_direct_external_calls:
                problems.append(
                    Problem(
                        "USE_TOR_FOR_EXTERNAL_CALLS",
                        "false needs ALLOW_DIRECT_EXTERNAL_CALLS=true as well: without Tor this node reveals its "
                        "address to every host it calls",
                    )
                )
        elif not self.tor_prevent_dns_leaks:
            problems.append(
                Problem(
                    "TOR_PREVENT_DNS_LEAKS",
                    "cannot be false while Tor is used: resolving names locally tells the local resolver every host "
                    "this node talks to",
                )
            )
        if self.tor_control_password is not None and self.tor_control_cookie_path is not None:
            problems.append(
                Problem(
                    "TOR_CONTROL_PASSWORD",
                    "set together with TOR_CONTROL_COOKIE_PATH: choose one way to authenticate to the control port",
                )
            )
        return problems


def _socks_port(url: SplitResult) -> int:
    return _DEFAULT_SOCKS_PORT if url.port is None else url.port

"""The settings every TronGrid-facing service reads, declared once (tron-client and tron-relay extend them)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from lucid_tron.config import Problem, setting
from lucid_tron.mesh import ServiceSettings
from tor_proxy import TorSettings

__all__ = ["TronGridSettings"]


@dataclass(frozen=True, kw_only=True)
class TronGridSettings(TorSettings, ServiceSettings):
    """Where TronGrid is, the API key (a secret), how long one attempt may take, and Tor, its only way out."""

    trongrid_url: str = setting("TRONGRID_URL", schemes=("http", "https"))
    trongrid_api_key: str | None = setting("TRONGRID_API_KEY", default=None, secret=True)
    # One attempt's limit; the caller's deadline cuts it shorter (Tor adds about a second per request).
    trongrid_timeout_s: float = setting("TRONGRID_TIMEOUT_S", default=10.0, ge=0.1, le=120)

    def _rules_between_variables(self) -> list[Problem]:
        problems = super()._rules_between_variables()
        url = urlsplit(self.trongrid_url)
        # A Tor exit node sees plain HTTP: it would read the API key and could answer with forged blocks and
        # receipts. Only hosts no exit can be in the middle of (this machine, the test network, an onion service).
        if self.tor_required and url.scheme == "http" and url.hostname and not _private_http_host(url.hostname):
            problems.append(
                Problem(
                    "TRONGRID_URL",
                    f"plain http:// to {url.hostname} while Tor is required: a Tor exit node would read the API key "
                    "and could forge answers; use https:// (http:// only to loopback, a .test name or a .onion "
                    "service)",
                )
            )
        return problems


def _private_http_host(host: str) -> bool:
    """True for a host plain HTTP may reach through Tor: loopback (127.0.0.0/8, ::1, localhost), a `.test` name (the
    private test network's exit resolves those) or a `.onion` service (end-to-end encrypted by Tor itself)."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith((".test", ".onion")):
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False

"""Which URLs an endpoint may have: https anywhere; plain http only where it cannot leave the machine or is
reserved for testing (loopback addresses, `localhost`, `.test` hosts, RFC 6761), for development."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from lucid_tron.validation import FieldChecks

__all__ = ["MAX_URL_LENGTH", "check_url"]

MAX_URL_LENGTH = 2048


def check_url(check: FieldChecks, field: str, value: str) -> str | None:
    """The endpoint URL `value`, or None with a violation of `field` recorded."""
    url = check.string(field, value, max_length=MAX_URL_LENGTH)
    if url is None:
        return None
    if any(character.isspace() or ord(character) < 0x20 for character in url):
        check.fail(field, "must not contain spaces or control characters")
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in 0..65535
    except ValueError as error:
        check.fail(field, f"not a URL: {error}")
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        check.fail(field, f"must be an https:// URL, got scheme {parts.scheme or 'none'!r}")
        return None
    if not host:
        check.fail(field, "must name a host, e.g. https://shop.example/webhooks")
        return None
    if parts.username is not None or parts.password is not None:
        # Credentials in a URL end up in listings and logs: the whsec_ signature is how a receiver authenticates us.
        check.fail(field, "must not carry a user name or password")
        return None
    if scheme == "http" and not _development_host(host):
        check.fail(field, "must use https (plain http only for loopback hosts, localhost and .test hosts)")
        return None
    return url


def _development_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost") or host == "test" or host.endswith(".test"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

"""TorProxy without any server: failing closed before a socket exists, session lifecycle, the error tree."""

from __future__ import annotations

import logging
import socket

import pytest

from lucid_tron.errors import Unavailable
from tor_proxy import (
    DestinationUnreachable,
    ProxyNotConfigured,
    ProxyUnavailable,
    TorConfig,
    TorProxy,
    TorProxyError,
)


@pytest.fixture
def sockets_created(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The family of every IPv4/IPv6 socket this process creates (the event loop's own AF_UNIX pairs are
    not network). A spy, not a mock: it records and then builds the real socket."""
    created: list[object] = []
    real_socket = socket.socket

    class SpySocket(real_socket):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            family = args[0] if args else kwargs.get("family", socket.AF_INET)
            if family in (socket.AF_INET, socket.AF_INET6):
                created.append(family)
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "socket", SpySocket)
    return created


async def test_without_a_configured_proxy_a_session_is_refused_before_any_socket(sockets_created):
    async with TorProxy(TorConfig(socks_host=None)) as tor:
        with pytest.raises(ProxyNotConfigured, match="nothing was sent"):
            tor.session("chain-read")
        with pytest.raises(ProxyNotConfigured):
            await tor.check_connectivity("https://api.trongrid.io/wallet/getnowblock")
        with pytest.raises(ProxyNotConfigured):
            await tor.probe()

    assert sockets_created == []


def test_a_missing_proxy_is_logged_as_an_error_at_start(caplog):
    with caplog.at_level(logging.INFO, logger="tor_proxy"):
        TorProxy(TorConfig(socks_host=None))

    assert [r.levelno for r in caplog.records if r.name == "tor_proxy"] == [logging.ERROR]


def test_tor_mode_logs_where_requests_go_and_no_warning(caplog):
    with caplog.at_level(logging.INFO, logger="tor_proxy"):
        TorProxy(TorConfig(socks_host="tor-proxy"))

    records = [r for r in caplog.records if r.name == "tor_proxy"]
    assert [r.levelno for r in records] == [logging.INFO]
    assert "socks5://tor-proxy:9050" in records[0].getMessage()


async def test_from_env_builds_the_proxy_from_the_variables():
    async with TorProxy.from_env({"TOR_PROXY": "socks5h://tor-proxy:9150"}) as tor:
        assert tor.config.proxy_url == "socks5://tor-proxy:9150"


async def test_close_closes_every_session_and_the_proxy_refuses_new_ones():
    tor = TorProxy(TorConfig())
    sessions = [tor.session("chain-read"), tor.session("broadcast")]

    await tor.close()

    assert all(session.closed for session in sessions)
    with pytest.raises(RuntimeError, match="closed"):
        tor.session("chain-read")


@pytest.mark.parametrize("purpose", ["", "x" * 129, "line\nbreak", None])
async def test_a_purpose_must_be_a_short_printable_name(purpose):
    async with TorProxy(TorConfig()) as tor:
        with pytest.raises(ValueError, match="purpose"):
            tor.session(purpose)


def test_socks_usernames_are_stable_per_purpose_and_distinct_between_purposes():
    tor = TorProxy(TorConfig())

    assert tor.socks_username("chain-read") == tor.socks_username("chain-read")
    assert tor.socks_username("chain-read") != tor.socks_username("broadcast")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ProxyNotConfigured("x"), "TOR_PROXY_NOT_CONFIGURED"),
        (ProxyUnavailable("x"), "TOR_PROXY_UNAVAILABLE"),
        (DestinationUnreachable("x", socks_reply=5), "TOR_DESTINATION_UNREACHABLE"),
    ],
)
def test_every_tor_failure_is_an_unavailable_with_its_own_reason(error, reason):
    assert isinstance(error, TorProxyError)
    assert isinstance(error, Unavailable)
    assert error.reason == reason

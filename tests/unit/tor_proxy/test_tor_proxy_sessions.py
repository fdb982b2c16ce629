"""TorProxy without any server: failing closed before a socket exists, session lifecycle, the error tree."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from lucid_tron.errors import Unavailable
from lucid_tron.testing import free_port
from tor_proxy import (
    USER_AGENT,
    ControlAuthFailed,
    ControlPortUnavailable,
    DestinationUnreachable,
    NewnymRateLimited,
    ProxyNotConfigured,
    ProxyUnavailable,
    TorConfig,
    TorControlError,
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
    ("error", "base", "reason"),
    [
        (ProxyNotConfigured("x"), TorProxyError, "TOR_PROXY_NOT_CONFIGURED"),
        (ProxyUnavailable("x"), TorProxyError, "TOR_PROXY_UNAVAILABLE"),
        (DestinationUnreachable("x", socks_reply=5), TorProxyError, "TOR_DESTINATION_UNREACHABLE"),
        (ControlPortUnavailable("x"), TorControlError, "TOR_CONTROL_UNAVAILABLE"),
        (ControlAuthFailed("x"), TorControlError, "TOR_CONTROL_AUTH_FAILED"),
        (NewnymRateLimited("x", retry_after_s=3.0), TorControlError, "TOR_NEWNYM_RATE_LIMITED"),
    ],
)
def test_every_tor_failure_is_an_unavailable_with_its_own_reason(error, base, reason):
    assert isinstance(error, base)
    assert isinstance(error, Unavailable)
    assert error.reason == reason


# -- rotation: new credentials ------------------------------------------------------------------------------------


async def test_new_circuits_for_every_purpose_changes_every_socks_username():
    async with TorProxy(TorConfig()) as tor:
        before = {purpose: tor.socks_username(purpose) for purpose in ("chain-read", "broadcast")}
        tor.new_circuits()
        after = {purpose: tor.socks_username(purpose) for purpose in ("chain-read", "broadcast")}

    assert all(before[purpose] != after[purpose] for purpose in before)


async def test_new_circuits_for_one_purpose_leaves_the_others_alone():
    async with TorProxy(TorConfig()) as tor:
        chain_read, broadcast = tor.socks_username("chain-read"), tor.socks_username("broadcast")
        tor.new_circuits("chain-read")

        assert tor.socks_username("chain-read") != chain_read
        assert tor.socks_username("broadcast") == broadcast


async def test_after_new_circuits_a_purpose_gets_a_new_session_and_the_old_one_closes_after_the_grace():
    async with TorProxy(TorConfig(connectivity_timeout_s=0.05)) as tor:
        old = tor.session("chain-read")
        tor.new_circuits()
        new = tor.session("chain-read")

        assert new is not old
        assert not old.closed  # requests already running on it may finish
        await asyncio.sleep(0.3)
        assert old.closed and not new.closed


async def test_close_also_closes_sessions_still_in_their_grace():
    tor = TorProxy(TorConfig())
    old = tor.session("chain-read")
    tor.new_circuits()

    await tor.close()

    assert old.closed


# -- the bounded cache --------------------------------------------------------------------------------------------


async def test_beyond_max_sessions_the_least_recently_used_purpose_is_retired():
    async with TorProxy(TorConfig(connectivity_timeout_s=0.05), max_sessions=2) as tor:
        first = tor.session("wallet:1")
        tor.session("wallet:2")
        tor.session("wallet:1")  # wallet:2 is now the least recently used
        tor.session("wallet:3")

        assert tor.purposes == ["wallet:1", "wallet:3"]
        await asyncio.sleep(0.3)
        assert not first.closed


async def test_a_session_idle_longer_than_session_idle_s_is_closed_when_another_is_created():
    async with TorProxy(TorConfig(), session_idle_s=0.05) as tor:
        idle = tor.session("wallet:1")
        await asyncio.sleep(0.1)
        tor.session("wallet:2")
        await asyncio.sleep(0)  # the close runs as a task

        assert tor.purposes == ["wallet:2"]
        await asyncio.sleep(0.05)
        assert idle.closed


async def test_a_rotated_purpose_whose_idle_session_is_closed_does_not_get_its_old_credentials_back():
    async with TorProxy(TorConfig(), session_idle_s=0.05) as tor:
        tor.session("wallet:1")
        abandoned = tor.socks_username("wallet:1")
        tor.new_circuits("wallet:1")
        rotated = tor.socks_username("wallet:1")
        tor.session("wallet:1")
        await asyncio.sleep(0.1)
        tor.session("wallet:2")  # evicts the idle wallet:1

        assert tor.purposes == ["wallet:2"]
        assert tor.socks_username("wallet:1") == rotated != abandoned


async def test_a_rotated_purpose_retired_beyond_max_sessions_does_not_get_its_old_credentials_back():
    async with TorProxy(TorConfig(connectivity_timeout_s=0.05), max_sessions=1) as tor:
        tor.session("wallet:1")
        abandoned = tor.socks_username("wallet:1")
        tor.new_circuits("wallet:1")
        rotated = tor.socks_username("wallet:1")
        tor.session("wallet:1")
        tor.session("wallet:2")  # retires wallet:1, the least recently used

        assert tor.purposes == ["wallet:2"]
        assert tor.socks_username("wallet:1") == rotated != abandoned


async def test_beyond_16_rotated_purposes_per_session_every_purpose_moves_to_credentials_it_never_had():
    async with TorProxy(TorConfig(), max_sessions=1) as tor:
        purposes = [f"wallet:{n}" for n in range(17)]
        had: dict[str, set[str]] = {purpose: {tor.socks_username(purpose)} for purpose in purposes}
        for purpose in purposes[:16]:
            tor.new_circuits(purpose)
            had[purpose].add(tor.socks_username(purpose))

        tor.new_circuits(purposes[16])  # the 17th rotated purpose

        assert all(tor.socks_username(purpose) not in had[purpose] for purpose in purposes)


# -- failing fast while Tor is known to be unusable ------------------------------------------------------------------


async def test_while_marked_unavailable_a_request_is_refused_before_any_socket(sockets_created):
    # Port 9 (discard): nothing may connect to it anyway.
    async with TorProxy(TorConfig(socks_port=9)) as tor:
        session = tor.session("chain-read")
        tor.set_unavailable("Tor is bootstrapping: 40%", retry_after_s=1.0)

        with pytest.raises(ProxyUnavailable, match="bootstrapping: 40%.*nothing was sent") as caught:
            await session.get("http://trongrid.test/wallet/getnowblock")

        assert caught.value.retry_after_s == 1.0
        assert tor.unavailable_reason == "Tor is bootstrapping: 40%"
        assert (tor.stats.requests, tor.stats.failures, tor.stats.refused_while_unavailable) == (1, 1, 1)
    assert sockets_created == []


async def test_once_available_again_requests_try_the_socks_port():
    closed_port = free_port()
    async with TorProxy(TorConfig(socks_port=closed_port)) as tor:
        tor.set_unavailable("Tor is down")
        tor.set_available()

        with pytest.raises(ProxyUnavailable, match=f"cannot connect to Tor SOCKS port 127.0.0.1:{closed_port}"):
            await tor.session("chain-read").get("http://trongrid.test/")
        assert tor.unavailable_reason is None


async def test_a_request_failing_at_the_socks_port_tells_the_failure_listeners():
    heard: list[TorProxyError] = []
    async with TorProxy(TorConfig(socks_port=free_port())) as tor:
        tor.add_failure_listener(heard.append)
        with pytest.raises(ProxyUnavailable):
            await tor.session("chain-read").get("http://trongrid.test/")

    assert len(heard) == 1 and isinstance(heard[0], ProxyUnavailable)


# -- what every node sends --------------------------------------------------------------------------------------------


async def test_sessions_send_the_neutral_user_agent_and_a_fixed_accept_encoding():
    async with TorProxy(TorConfig()) as tor:
        headers = tor.session("chain-read").headers

    assert headers["User-Agent"] == USER_AGENT
    assert "aiohttp" not in USER_AGENT and "Python" not in USER_AGENT
    assert headers["Accept-Encoding"] == "gzip, deflate"

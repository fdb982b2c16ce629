"""tor_proxy against real SOCKS5 servers on loopback: microsocks, and small asyncio servers that stand for a
SOCKS port that records credentials or never answers. The destination is a local HTTP server that counts
the TCP connections it accepts."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator

import pytest

from lucid_tron.testing import free_port
from tor_proxy import (
    DestinationUnreachable,
    ProxyUnavailable,
    TorConfig,
    TorProxy,
)


def tor_config(socks_port: int, *, timeout_s: float = 5.0) -> TorConfig:
    return TorConfig(socks_host="127.0.0.1", socks_port=socks_port, connectivity_timeout_s=timeout_s)


@pytest.fixture
async def name_lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every host name this process asks to resolve, through socket.getaddrinfo or the loop's getaddrinfo.

    A spy, not a mock: each call is recorded and then passed to the real function unchanged.
    """
    looked_up: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    loop = asyncio.get_running_loop()
    real_loop_getaddrinfo = loop.getaddrinfo

    def spy(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        looked_up.append(host)
        return real_getaddrinfo(host, *args, **kwargs)

    async def loop_spy(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        looked_up.append(host)
        return await real_loop_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", spy)
    monkeypatch.setattr(loop, "getaddrinfo", loop_spy)
    return looked_up


# -- remote DNS -------------------------------------------------------------------------------------


async def test_the_hostname_reaches_the_proxy_and_is_never_resolved_locally(microsocks, target, name_lookups):
    async with TorProxy(tor_config(microsocks.port)) as tor:
        async with tor.session("chain-read").get(f"http://localhost:{target.port}/wallet/getnowblock") as response:
            assert response.status == 200
            assert await response.text() == "answered /wallet/getnowblock"

    assert f"localhost:{target.port}" in microsocks.destinations()
    assert "localhost" not in name_lookups
    assert target.connections == 1


async def test_direct_mode_connects_without_a_proxy_and_warns_at_start(target, name_lookups, caplog):
    with caplog.at_level(logging.WARNING, logger="tor_proxy"):
        tor = TorProxy(TorConfig(direct=True))
    async with tor:
        async with tor.session("chain-read").get(f"http://localhost:{target.port}/") as response:
            assert response.status == 200

    warnings = [r for r in caplog.records if r.name == "tor_proxy" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Tor is OFF" in warnings[0].getMessage()
    # The same spy that sees no lookup through Tor sees this one: direct mode resolves locally.
    assert "localhost" in name_lookups
    assert target.connections == 1


# -- failing closed ---------------------------------------------------------------------------------


async def test_a_refusing_proxy_fails_fast_and_nothing_reaches_the_destination(target):
    closed_port = free_port()
    async with TorProxy(tor_config(closed_port, timeout_s=0.5)) as tor:
        started = time.monotonic()
        with pytest.raises(ProxyUnavailable, match=f"127.0.0.1:{closed_port}"):
            await tor.session("chain-read").get(f"http://localhost:{target.port}/")
        elapsed_s = time.monotonic() - started

    assert elapsed_s < 1.0
    assert target.connections == 0


@pytest.fixture
async def silent_socks_port() -> AsyncIterator[int]:
    """A TCP port that accepts connections and never says a word: a hung Tor."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_a_silent_proxy_times_out_as_unavailable_and_nothing_reaches_the_destination(silent_socks_port, target):
    async with TorProxy(tor_config(silent_socks_port, timeout_s=0.3)) as tor:
        started = time.monotonic()
        with pytest.raises(ProxyUnavailable):
            await tor.session("chain-read").get(f"http://localhost:{target.port}/")
        elapsed_s = time.monotonic() - started

    assert 0.3 <= elapsed_s < 1.0
    assert target.connections == 0


async def test_rejected_socks_credentials_are_proxy_unavailable(microsocks_requiring_auth, target):
    async with TorProxy(tor_config(microsocks_requiring_auth.port)) as tor:
        with pytest.raises(ProxyUnavailable, match="handshake"):
            await tor.session("chain-read").get(f"http://localhost:{target.port}/")

    assert target.connections == 0


async def test_a_destination_the_proxy_cannot_reach_is_destination_unreachable_with_the_socks_reply(microsocks):
    closed_port = free_port()
    async with TorProxy(tor_config(microsocks.port)) as tor:
        with pytest.raises(DestinationUnreachable) as caught:
            await tor.session("chain-read").get(f"http://localhost:{closed_port}/")

    assert caught.value.socks_reply is not None and caught.value.socks_reply != 0


# -- circuit isolation by SOCKS credentials ---------------------------------------------------------


class CredentialRecorder:
    """A SOCKS5 server that demands username/password, records them, and refuses every client."""

    def __init__(self) -> None:
        self.credentials: list[tuple[str, str]] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            _version, n_methods = await reader.readexactly(2)
            methods = await reader.readexactly(n_methods)
            if 2 not in methods:
                writer.write(b"\x05\xff")
                return
            writer.write(b"\x05\x02")
            _auth_version, user_length = await reader.readexactly(2)
            username = await reader.readexactly(user_length)
            (password_length,) = await reader.readexactly(1)
            password = await reader.readexactly(password_length)
            self.credentials.append((username.decode(), password.decode()))
            writer.write(b"\x01\x01")  # authentication failed
        finally:
            writer.close()


@pytest.fixture
async def credential_recorder() -> AsyncIterator[tuple[CredentialRecorder, int]]:
    recorder = CredentialRecorder()
    port = await recorder.start()
    yield recorder, port
    await recorder.stop()


async def send_as(tor: TorProxy, purpose: str, port: int) -> None:
    with pytest.raises(ProxyUnavailable):
        await tor.session(purpose).get(f"http://localhost:{port}/")


async def test_each_purpose_has_its_own_session_and_sends_its_own_stable_socks_credentials(credential_recorder):
    recorder, socks_port = credential_recorder
    async with TorProxy(tor_config(socks_port)) as tor:
        assert tor.session("chain-read") is tor.session("chain-read")
        assert tor.session("chain-read") is not tor.session("broadcast")
        for purpose in ("chain-read", "broadcast", "chain-read", "wallet:7"):
            await send_as(tor, purpose, free_port())

        chain_read, broadcast, chain_read_again, wallet = recorder.credentials
        assert chain_read == chain_read_again
        assert len({chain_read, broadcast, wallet}) == 3
        assert chain_read[0] == tor.socks_username("chain-read")


async def test_the_purpose_name_is_not_sent_to_the_proxy_and_differs_between_processes(credential_recorder):
    recorder, socks_port = credential_recorder
    async with TorProxy(tor_config(socks_port)) as first, TorProxy(tor_config(socks_port)) as second:
        await send_as(first, "wallet:alice", free_port())
        await send_as(second, "wallet:alice", free_port())

    (first_user, first_password), (second_user, second_password) = recorder.credentials
    for sent in (first_user, first_password, second_user, second_password):
        assert "wallet" not in sent and "alice" not in sent
    assert first_user != second_user


# -- health -----------------------------------------------------------------------------------------


async def test_probe_reports_a_socks5_port_that_answers(microsocks):
    async with TorProxy(tor_config(microsocks.port)) as tor:
        result = await tor.probe()

    assert result.via_tor is True
    assert 0 < result.latency_ms < 1000
    assert microsocks.destinations() == []


async def test_probe_of_a_closed_port_raises_proxy_unavailable_fast():
    async with TorProxy(tor_config(free_port())) as tor:
        started = time.monotonic()
        with pytest.raises(ProxyUnavailable):
            await tor.probe(timeout_s=0.5)
        assert time.monotonic() - started < 0.5


async def test_probe_of_a_port_that_is_not_socks5_raises_proxy_unavailable(target):
    async with TorProxy(tor_config(target.port)) as tor:
        with pytest.raises(ProxyUnavailable):
            await tor.probe(timeout_s=0.5)


async def test_probe_of_a_silent_port_raises_proxy_unavailable_after_its_timeout(silent_socks_port):
    async with TorProxy(tor_config(silent_socks_port)) as tor:
        started = time.monotonic()
        with pytest.raises(ProxyUnavailable, match="did not answer"):
            await tor.probe(timeout_s=0.3)
        assert time.monotonic() - started < 1.0


async def test_check_connectivity_gets_an_answer_through_the_proxy(microsocks, target):
    async with TorProxy(tor_config(microsocks.port)) as tor:
        result = await tor.check_connectivity(f"http://localhost:{target.port}/health")

    assert result.status == 200
    assert result.slow is False
    assert f"localhost:{target.port}" in microsocks.destinations()


async def test_check_connectivity_through_a_dead_proxy_raises_proxy_unavailable(target):
    async with TorProxy(tor_config(free_port())) as tor:
        with pytest.raises(ProxyUnavailable):
            await tor.check_connectivity(f"http://localhost:{target.port}/health", timeout_s=0.5)
    assert target.connections == 0


async def test_sessions_ignore_proxy_variables_of_the_environment(microsocks, target, monkeypatch):
    # An HTTP_PROXY in the environment must not redirect requests: the SOCKS port is the only way out.
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    async with TorProxy(tor_config(microsocks.port)) as tor:
        async with tor.session("chain-read").get(f"http://localhost:{target.port}/") as response:
            assert response.status == 200
    assert f"localhost:{target.port}" in microsocks.destinations()

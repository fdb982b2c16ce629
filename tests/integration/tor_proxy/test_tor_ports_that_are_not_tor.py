"""Control and SOCKS ports that are not Tor (closed, silent, echoing, an HTTP server, a plain SOCKS5 proxy), without a
Tor network: each gives a specific error or health reason within its time limit, and nothing is sent anywhere else."""

from __future__ import annotations

import time

import pytest

from lucid_tron.testing import free_port
from tor_proxy import (
    USER_AGENT,
    ControlPortUnavailable,
    ProxyUnavailable,
    TorConfig,
    TorController,
    TorProxy,
    TorRuntime,
)


def control_config(control_port: int) -> TorConfig:
    return TorConfig(control_port=control_port)


async def connect_within(controller: TorController, limit_s: float) -> ControlPortUnavailable:
    started = time.monotonic()
    with pytest.raises(ControlPortUnavailable) as caught:
        await controller.connect()
    assert time.monotonic() - started < limit_s
    await controller.close()
    return caught.value


async def test_a_closed_control_port_is_unavailable_at_once():
    closed = free_port()

    error = await connect_within(TorController(control_config(closed)), 1.0)

    assert f"cannot connect to Tor control port 127.0.0.1:{closed}" in str(error)
    assert "Connection refused" in str(error)


async def test_a_silent_control_port_is_unavailable_after_the_time_limit_not_later(silent_port):
    error = await connect_within(TorController(control_config(silent_port), timeout_s=0.5), 1.5)

    assert "did not answer authentication within 0.5 s" in str(error)


async def test_an_http_server_as_control_port_is_named_as_not_a_control_port(target):
    error = await connect_within(TorController(control_config(target.port)), 2.0)

    assert f"127.0.0.1:{target.port} does not speak Tor's control protocol" in str(error)


async def test_an_echoing_port_as_control_port_is_named_as_not_a_control_port(echo_port):
    error = await connect_within(TorController(control_config(echo_port), timeout_s=1.0), 2.0)

    assert f"127.0.0.1:{echo_port} does not speak Tor's control protocol" in str(error)


async def test_an_http_server_as_socks_port_makes_tor_not_serving_and_requests_fail_before_reaching_anything(target):
    # The check runs before the first request: the HTTP server sees the SOCKS5 greeting of the probe, nothing else.
    async with TorRuntime(TorConfig(socks_port=target.port, control_port=free_port())) as tor:
        assert tor.monitor.status is not None and not tor.monitor.status.serving
        assert "does not speak SOCKS5" in tor.monitor.status.reason
        started = time.monotonic()
        with pytest.raises(ProxyUnavailable, match="does not speak SOCKS5"):
            await tor.session("chain-read").get("http://trongrid.test/wallet/getnowblock")
        assert time.monotonic() - started < 0.1

    assert target.request_headers == []


async def test_an_echoing_port_as_socks_port_makes_tor_not_serving(echo_port):
    async with TorRuntime(TorConfig(socks_port=echo_port, control_port=free_port())) as tor:
        assert tor.monitor.status is not None and "does not speak SOCKS5" in tor.monitor.status.reason
        with pytest.raises(ProxyUnavailable):
            await tor.session("chain-read").get("http://trongrid.test/")


async def test_a_silent_socks_port_makes_tor_not_serving_within_the_probe_limit(silent_port):
    started = time.monotonic()
    tor = TorRuntime(TorConfig(socks_port=silent_port, control_port=free_port(), connectivity_timeout_s=0.5))
    try:
        await tor.start()
        assert time.monotonic() - started < 1.5
        assert tor.monitor.status is not None and "did not answer within 0.5 s" in tor.monitor.status.reason
    finally:
        await tor.close()


async def test_requests_carry_the_neutral_user_agent_on_the_wire(microsocks, target):
    # TorProxy alone: a TorRuntime would (rightly) refuse microsocks, which is not Tor.
    async with TorProxy(TorConfig(socks_port=microsocks.port)) as tor:
        async with tor.session("chain-read").get(f"http://localhost:{target.port}/") as response:
            assert response.status == 200

    (headers,) = target.request_headers
    assert headers["User-Agent"] == USER_AGENT
    assert headers["Accept-Encoding"] == "gzip, deflate"

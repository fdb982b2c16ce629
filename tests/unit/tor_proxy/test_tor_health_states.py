"""TorHealthMonitor and TorRuntime without a Tor: direct mode, no proxy configured, Tor down (closed ports), and how
tor's status lines are read."""

from __future__ import annotations

import logging
import time

import pytest

from lucid_tron.mesh import Health
from lucid_tron.testing import free_port
from tor_proxy import (
    ProxyNotConfigured,
    ProxyUnavailable,
    TorConfig,
    TorController,
    TorHealthMonitor,
    TorProxy,
    TorRuntime,
)
from tor_proxy._control import _parse_bootstrap, _parse_socks_listeners


def down_config() -> TorConfig:
    """Tor on ports where nothing listens: a Tor that is not running."""
    return TorConfig(socks_port=free_port(), control_port=free_port(), health_check_interval_s=60)


async def test_in_direct_mode_the_runtime_reports_serving_has_no_controller_and_does_not_rotate():
    health = Health(["lucid.tron.v1.TronClientService"])
    tor = TorRuntime(TorConfig(direct=True))
    try:
        await tor.start(health)
        await health.mark_started()

        assert tor.controller is None
        assert tor.monitor.status is not None and tor.monitor.status.serving
        assert "Tor is off" in tor.monitor.status.reason
        assert health.serving
    finally:
        await tor.close()


async def test_without_a_socks_endpoint_the_runtime_is_not_serving_and_requests_fail_before_any_socket():
    health = Health(["lucid.tron.v1.TronClientService"])
    tor = TorRuntime(TorConfig(socks_host=None))
    try:
        await tor.start(health)
        await health.mark_started()

        assert not health.serving
        assert tor.monitor.status is not None and "no Tor SOCKS endpoint" in tor.monitor.status.reason
        with pytest.raises(ProxyNotConfigured):
            tor.session("chain-read")
    finally:
        await tor.close()


async def test_with_tor_down_the_first_check_reports_not_serving_before_start_returns_and_requests_fail_fast():
    health = Health(["lucid.tron.v1.TronClientService"])
    tor = TorRuntime(down_config())
    try:
        await tor.start(health)
        await health.mark_started()

        assert not health.serving
        assert tor.monitor.status is not None and tor.monitor.status.reason.startswith("Tor is down: ")
        started = time.monotonic()
        with pytest.raises(ProxyUnavailable, match="Tor is not usable now"):
            await tor.session("chain-read").get("http://trongrid.test/wallet/getnowblock")
        assert time.monotonic() - started < 0.1
    finally:
        await tor.close()


async def test_a_health_listener_hears_a_state_once_not_at_every_check():
    heard: list[tuple[bool, str]] = []
    config = down_config()
    proxy = TorProxy(config)
    controller = TorController(config, proxy=proxy)
    monitor = TorHealthMonitor(config, proxy, controller, on_change=lambda *state: heard.append(state))
    try:
        await monitor.check()
        await monitor.check()
    finally:
        await proxy.close()

    assert [serving for serving, _ in heard] == [False]


async def test_async_listeners_are_awaited_and_a_failing_listener_does_not_silence_the_others(caplog):
    heard: list[bool] = []

    async def async_listener(serving: bool, reason: str) -> None:
        heard.append(serving)

    def failing_listener(serving: bool, reason: str) -> None:
        raise RuntimeError("listener bug")

    config = down_config()
    proxy = TorProxy(config)
    monitor = TorHealthMonitor(config, proxy, TorController(config, proxy=proxy), on_change=failing_listener)
    monitor.add_listener(async_listener)
    try:
        with caplog.at_level(logging.ERROR, logger="tor_proxy.health"):
            status = await monitor.check()
    finally:
        await proxy.close()

    assert not status.serving
    assert heard == [False]
    assert any("listener failed" in record.getMessage() for record in caplog.records)


def test_a_controller_needs_tor():
    with pytest.raises(ValueError, match="needs Tor"):
        TorController(TorConfig(direct=True))


def test_a_monitor_needs_the_controller_when_tor_is_used():
    with pytest.raises(ValueError, match="needs the TorController"):
        TorHealthMonitor(TorConfig(), TorProxy(TorConfig()))


# -- tor's status lines ----------------------------------------------------------------------------------------------


def test_a_finished_bootstrap_is_done():
    status = _parse_bootstrap('NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"')

    assert (status.progress, status.tag, status.summary, status.warning) == (100, "done", "Done", None)
    assert status.done


def test_a_stuck_bootstrap_carries_tors_warning():
    status = _parse_bootstrap(
        'WARN BOOTSTRAP PROGRESS=10 TAG=conn_done SUMMARY="Connected to a relay" WARNING="Connection refused" '
        "REASON=CONNECTREFUSED COUNT=3 RECOMMENDATION=ignore"
    )

    assert not status.done
    assert status.describe() == "10% (Connected to a relay), tor warns: Connection refused"


def test_socks_listeners_carry_their_isolation():
    listeners = _parse_socks_listeners(
        '"127.0.0.1:9050" "[::1]:9050" "127.0.0.1:9150"', ["127.0.0.1:9050 IsolateSOCKSAuth", "9150 NoIsolateSOCKSAuth"]
    )

    assert [(x.address, x.port, x.isolates_socks_auth) for x in listeners] == [
        ("127.0.0.1", 9050, True),
        ("::1", 9050, True),
        ("127.0.0.1", 9150, False),
    ]

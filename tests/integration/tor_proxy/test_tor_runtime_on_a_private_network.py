"""TorRuntime against the real private Tor network (fixture `tor_network`), with devnet on 127.0.0.1 reached through Tor
as http://trongrid.test:PORT (the exit's DNS stub resolves *.test to 127.0.0.1).

Circuits are observed independently of the code under test: a second stem controller (tor_network.controller())
records tor's STREAM events, each with its circuit and the SOCKS username it came with (TorProxy.socks_username).
Numbers worth reporting are printed as "MEASURED ..." lines (pytest -s shows them).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from stem.control import EventType

from lucid_tron.mesh import Health
from lucid_tron.testing import free_port
from lucid_tron.testing.tor_network import TorNetwork
from lucid_tron.trongrid import RetryPolicy, TronGridClient, TronGridUnavailable
from tor_proxy import (
    ControlAuthFailed,
    DestinationUnreachable,
    NewnymRateLimited,
    ProxyUnavailable,
    TorConfig,
    TorController,
    TorRuntime,
)

pytestmark = pytest.mark.tor


def measured(what: str, value: float, unit: str) -> None:
    print(f"MEASURED {what}: {value:.1f} {unit}")


# -- fixtures -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamSeen:
    stream_id: str
    status: str
    circuit_id: str | None
    target: str
    socks_username: str | None


class StreamLog:
    """tor's STREAM events as another controller sees them."""

    def __init__(self) -> None:
        self._events: list[StreamSeen] = []
        self._lock = threading.Lock()

    def record(self, event) -> None:  # type: ignore[no-untyped-def]
        seen = StreamSeen(
            event.id, str(event.status), event.circ_id, event.target, event.keyword_args.get("SOCKS_USERNAME")
        )
        with self._lock:
            self._events.append(seen)

    @property
    def events(self) -> list[StreamSeen]:
        with self._lock:
            return list(self._events)

    def circuits_of(self, username: str) -> set[str]:
        """Circuits that carried a stream of `username` to its destination."""
        return {
            e.circuit_id
            for e in self.events
            if e.socks_username == username and e.status == "SUCCEEDED" and e.circuit_id is not None
        }

    async def wait_for_streams(self, username: str, count: int, timeout_s: float = 5.0) -> set[str]:
        """The circuits of `username` once at least `count` of its streams succeeded (events arrive on a thread)."""
        deadline = time.monotonic() + timeout_s
        while True:
            succeeded = [e for e in self.events if e.socks_username == username and e.status == "SUCCEEDED"]
            if len(succeeded) >= count:
                return self.circuits_of(username)
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(succeeded)} streams of {username} succeeded, expected {count}")
            await asyncio.sleep(0.05)


@pytest.fixture
def stream_log(tor_network: TorNetwork) -> Iterator[StreamLog]:
    controller = tor_network.controller()
    log = StreamLog()
    controller.add_event_listener(log.record, EventType.STREAM)
    try:
        yield log
    finally:
        controller.close()


def network_config(tor_network: TorNetwork, **overrides: object) -> TorConfig:
    settings: dict[str, object] = {
        "socks_host": "127.0.0.1",
        "socks_port": tor_network.socks_port,
        "control_port": tor_network.control_port,
        "connectivity_timeout_s": 10.0,
        "circuit_rotation_enabled": False,
    }
    settings.update(overrides)
    return TorConfig(**settings)  # type: ignore[arg-type]


RuntimeFactory = Callable[..., Awaitable[TorRuntime]]


@pytest.fixture
async def start_runtime(tor_network: TorNetwork) -> AsyncIterator[RuntimeFactory]:
    """start_runtime(**TorConfig overrides, health=None) -> a started TorRuntime on the private network."""
    started: list[TorRuntime] = []

    async def start(*, health: Health | None = None, **overrides: object) -> TorRuntime:
        runtime = TorRuntime(network_config(tor_network, **overrides))
        started.append(runtime)
        await runtime.start(health)
        return runtime

    yield start
    for runtime in started:
        await runtime.close()


@pytest.fixture
async def tor_client_restored(tor_network: TorNetwork) -> AsyncIterator[TorNetwork]:
    """The network, with its client brought back (ready) after a test that kills or stops it."""
    try:
        yield tor_network
    finally:
        if not tor_network.client_running:
            await asyncio.to_thread(tor_network.start_client)


def trongrid_url(devnet) -> str:  # type: ignore[no-untyped-def]
    return f"http://trongrid.test:{urlsplit(devnet.url).port}"


def single_attempt(url: str, proxy: object, **kwargs: object) -> TronGridClient:
    return TronGridClient(url, proxy, retry=RetryPolicy(max_attempts=1), **kwargs)  # type: ignore[arg-type]


# -- reads through Tor ------------------------------------------------------------------------------------------------


async def test_a_trongrid_read_through_tor_reaches_devnet_by_a_name_only_the_exit_resolves(
    tor_network, devnet, start_runtime, stream_log
):
    tor = await start_runtime()
    assert tor.monitor.serving, tor.monitor.status

    block = await TronGridClient(trongrid_url(devnet), tor.proxy).wallet("getnowblock")

    assert block["blockID"] == devnet.chain.head.id.hex()
    username = tor.proxy.socks_username("chain-read")
    await stream_log.wait_for_streams(username, 1)
    # The name went to tor as a name (remote DNS), and the exit asked the stub for it.
    new_targets = [e.target for e in stream_log.events if e.socks_username == username and e.status == "NEW"]
    assert new_targets == [f"trongrid.test:{urlsplit(devnet.url).port}"]
    assert "trongrid.test" in {question.name for question in tor_network.dns_queries}
    assert tor.stats.requests == 1 and tor.stats.failures == 0


async def test_the_optional_probe_url_is_read_through_tor_on_its_own_circuit_at_each_check(devnet, tor_network):
    runtime = TorRuntime(network_config(tor_network), probe_url=f"{trongrid_url(devnet)}/wallet/getnowblock")
    try:
        await runtime.start()
        status = await runtime.monitor.check()
        purposes = runtime.proxy.purposes
    finally:
        await runtime.close()

    assert status.serving
    assert status.probe_latency_ms is not None and status.probe_latency_ms > 0
    assert runtime.stats.requests == 2  # the first check at start, and this one
    assert purposes == ["health-check"]


# -- circuit isolation ------------------------------------------------------------------------------------------------


async def test_purposes_never_share_a_circuit(devnet, start_runtime, stream_log):
    tor = await start_runtime()
    trongrid = TronGridClient(trongrid_url(devnet), tor.proxy)
    purposes = ["chain-read", "broadcast", "wallet:alice", "wallet:bob"]

    for _ in range(3):  # concurrent reads (two per purpose: two connections, two streams), repeated
        await asyncio.gather(*(trongrid.wallet("getnowblock", purpose=purpose) for purpose in purposes * 2))

    circuits = {
        purpose: await stream_log.wait_for_streams(tor.proxy.socks_username(purpose), 2) for purpose in purposes
    }
    for index, purpose in enumerate(purposes):
        for other in purposes[index + 1 :]:
            assert circuits[purpose].isdisjoint(circuits[other]), (purpose, other, circuits)
    # And tor's own view: every circuit is isolated to at most one of our usernames.
    usernames = {tor.proxy.socks_username(purpose): purpose for purpose in purposes}
    assert tor.controller is not None
    for circuit in await tor.controller.circuits():
        if circuit.socks_username in usernames:
            assert circuit.id in circuits[usernames[circuit.socks_username]]


# -- NEWNYM -----------------------------------------------------------------------------------------------------------


async def test_newnym_on_demand_puts_the_next_request_on_a_new_circuit(devnet, start_runtime, stream_log):
    tor = await start_runtime()
    assert tor.controller is not None
    trongrid = TronGridClient(trongrid_url(devnet), tor.proxy)
    await trongrid.wallet("getnowblock")
    before_username = tor.proxy.socks_username("chain-read")
    (before,) = await stream_log.wait_for_streams(before_username, 1)

    rotation = await tor.controller.rotate()
    await trongrid.wallet("getnowblock")

    assert rotation.confirmed
    after_username = tor.proxy.socks_username("chain-read")
    assert after_username != before_username
    (after,) = await stream_log.wait_for_streams(after_username, 1)
    assert after != before
    assert tor.stats.newnym_rotations == 1
    measured("NEWNYM on demand (wait for tor's rate limit included)", rotation.took_s * 1000, "ms")


async def test_a_second_newnym_within_ten_seconds_is_refused_without_waiting_or_waited_out(start_runtime):
    tor = await start_runtime()
    assert tor.controller is not None
    await tor.controller.rotate()

    started = time.monotonic()
    with pytest.raises(NewnymRateLimited) as caught:
        await tor.controller.rotate(wait=False)
    assert time.monotonic() - started < 0.1
    assert 0 < caught.value.retry_after_s <= 10.0

    rotation = await tor.controller.rotate()

    assert rotation.confirmed
    assert rotation.waited_s == pytest.approx(caught.value.retry_after_s, abs=0.5)
    assert tor.stats.newnym_rotations == 2
    measured("NEWNYM wait for tor's rate limit", rotation.waited_s, "s")
    measured("NEWNYM after the wait, until tor confirmed it", (rotation.took_s - rotation.waited_s) * 1000, "ms")


async def test_the_scheduled_rotation_fires_every_interval(start_runtime):
    tor = await start_runtime(circuit_rotation_enabled=True, circuit_rotation_interval_s=10.0)
    started = time.monotonic()

    while tor.stats.newnym_rotations == 0:
        assert time.monotonic() - started < 25, "no scheduled NEWNYM within 25 s"
        await asyncio.sleep(0.2)

    measured("first scheduled NEWNYM after start (interval 10 s)", time.monotonic() - started, "s")


async def test_a_request_slower_than_the_latency_limit_moves_its_purpose_to_a_new_circuit(
    devnet, start_runtime, stream_log
):
    # Every request is "slow" at 1 ms; a purpose is rotated at most once per health interval, counted from its
    # session's start. The interval outlasts a request that builds a circuit (2.7 s seen on a loaded 2-core machine),
    # or the first request, and the third on its new circuit, would each be old enough to rotate too.
    interval_s = 5.0
    tor = await start_runtime(max_latency_ms=1, health_check_interval_s=interval_s)
    trongrid = TronGridClient(trongrid_url(devnet), tor.proxy)
    first_username = tor.proxy.socks_username("chain-read")
    await trongrid.wallet("getnowblock")
    assert tor.stats.latency_rotations == 0  # the session is younger than the interval
    await asyncio.sleep(interval_s + 0.1)

    await trongrid.wallet("getnowblock")  # slow again: now its purpose gets new credentials
    await trongrid.wallet("getnowblock")

    assert tor.stats.latency_rotations == 1
    second_username = tor.proxy.socks_username("chain-read")
    assert second_username != first_username
    (second,) = await stream_log.wait_for_streams(second_username, 1)
    assert second not in stream_log.circuits_of(first_username)


# -- Tor killed and restarted under a running service -


async def test_with_tor_killed_calls_fail_fast_and_health_flips_then_recovers_with_the_same_proxy(
    tor_client_restored, devnet, start_runtime
):
    tor_network = tor_client_restored
    health = Health(["lucid.tron.v1.TronClientService"])
    tor = await start_runtime(health=health, health_check_interval_s=60.0)
    await health.mark_started()
    proxy = tor.proxy
    flips: list[tuple[float, bool]] = []
    tor.monitor.add_listener(lambda serving, reason: flips.append((time.monotonic(), serving)))
    trongrid = single_attempt(trongrid_url(devnet), tor.proxy)
    await trongrid.wallet("getnowblock")
    assert health.serving

    tor_network.kill_client()
    killed = time.monotonic()
    latencies_ms = []
    for _ in range(10):
        started = time.monotonic()
        with pytest.raises(TronGridUnavailable) as caught:
            await trongrid.wallet("getnowblock", retry=False)
        latencies_ms.append((time.monotonic() - started) * 1000)
        assert caught.value.reason in ("TOR_PROXY_UNAVAILABLE", "TRONGRID_CONNECTION_FAILED", "TRONGRID_CIRCUIT_OPEN")
    status = await tor.monitor.wait_for(False, timeout_s=5)
    flipped_s = flips[0][0] - killed

    assert not health.serving
    assert status.reason.startswith("Tor is down")
    started = time.monotonic()
    with pytest.raises(ProxyUnavailable, match="Tor is not usable now"):
        await tor.session("chain-read").get(f"{trongrid_url(devnet)}/wallet/getnowblock")
    refused_ms = (time.monotonic() - started) * 1000
    assert max(latencies_ms) < 500 and refused_ms < 50
    measured("TronGrid call with tor killed, first", latencies_ms[0], "ms")
    measured("TronGrid call with tor killed, slowest of 10", max(latencies_ms), "ms")
    measured("request refused by the monitor's gate", refused_ms, "ms")
    measured("kill -> monitor NOT_SERVING", flipped_s * 1000, "ms")

    await asyncio.to_thread(tor_network.start_client, wait=False)
    spawned = time.monotonic()
    await tor.monitor.wait_for(True, timeout_s=60)
    serving_s = time.monotonic() - spawned
    # A new client: this one's circuit breaker counted the Tor outage as TronGrid failures and stays open for 30 s.
    await single_attempt(trongrid_url(devnet), tor.proxy).wallet("getnowblock")
    read_s = time.monotonic() - spawned

    assert health.serving
    assert tor.proxy is proxy
    measured("tor started -> monitor SERVING", serving_s, "s")
    measured("tor started -> first successful read through the same proxy", read_s, "s")
    await asyncio.to_thread(tor_network.wait_ready)


async def test_a_graceful_tor_restart_flips_health_down_and_up(tor_client_restored, devnet, start_runtime):
    tor_network = tor_client_restored
    tor = await start_runtime(health_check_interval_s=60.0)
    changes: list[bool] = []
    tor.monitor.add_listener(lambda serving, reason: changes.append(serving))

    await asyncio.to_thread(tor_network.restart_client)
    await tor.monitor.wait_for(True, timeout_s=30)

    assert changes == [False, True]
    await single_attempt(trongrid_url(devnet), tor.proxy).wallet("getnowblock")


# -- control-port authentication faults -


@pytest.fixture
def tor_with_password(tor_network: TorNetwork) -> Iterator[str]:
    """The running client also takes a control password (SETCONF HashedControlPassword), for this test only."""
    password = "correct horse battery staple"
    hashed = subprocess.run(
        ["tor", "--quiet", "--hash-password", password], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip().splitlines()[-1]
    with tor_network.controller() as controller:
        controller.set_conf("HashedControlPassword", hashed)
    try:
        yield password
    finally:
        with tor_network.controller() as controller:
            controller.reset_conf("HashedControlPassword")


async def test_a_wrong_control_password_is_control_auth_failed_and_requests_are_refused(
    tor_with_password, devnet, start_runtime
):
    tor = await start_runtime(control_password="wrong password")

    assert tor.monitor.status is not None and not tor.monitor.status.serving
    assert "rejected the control password (TOR_CONTROL_PASSWORD)" in tor.monitor.status.reason
    assert "wrong password" not in tor.monitor.status.reason
    # Without the control port nothing shows that the SOCKS port is Tor's: fail closed, and fast.
    started = time.monotonic()
    with pytest.raises(ProxyUnavailable, match="not shown to be Tor's"):
        await tor.session("chain-read").get(f"{trongrid_url(devnet)}/wallet/getnowblock")
    assert time.monotonic() - started < 0.05


async def test_the_right_control_password_connects(tor_with_password, tor_network):
    controller = TorController(network_config(tor_network, control_password=tor_with_password))
    try:
        await controller.connect()
        assert (await controller.bootstrap()).done
    finally:
        await controller.close()


async def test_a_password_for_a_tor_that_takes_none_names_the_variable(tor_network):
    controller = TorController(network_config(tor_network, control_password="anything"))
    with pytest.raises(ControlAuthFailed, match="TOR_CONTROL_PASSWORD is set but .* does not take a password"):
        await controller.connect()
    await controller.close()


async def test_a_missing_cookie_file_is_control_auth_failed_naming_the_file(tor_network, tmp_path):
    missing = tmp_path / "control_auth_cookie"
    controller = TorController(network_config(tor_network, control_cookie_path=str(missing)))
    expected = f"control cookie file {missing} .*TOR_CONTROL_COOKIE_PATH.* does not exist"
    with pytest.raises(ControlAuthFailed, match=expected):
        await controller.connect()
    await controller.close()


async def test_a_cookie_of_another_tor_is_rejected(tor_network, tmp_path):
    foreign = tmp_path / "control_auth_cookie"
    foreign.write_bytes(os.urandom(32))
    controller = TorController(network_config(tor_network, control_cookie_path=str(foreign)))
    with pytest.raises(ControlAuthFailed, match="rejected the cookie .*another tor or an earlier run"):
        await controller.connect()
    await controller.close()


async def test_the_cookie_at_the_configured_path_is_used(tor_network):
    controller = TorController(network_config(tor_network, control_cookie_path=str(tor_network.control_cookie_path)))
    try:
        await controller.connect()
        assert await controller.circuit_established()
    finally:
        await controller.close()


# -- a SOCKS port that is not this Tor's -


async def test_a_socks5_proxy_that_is_not_tor_is_refused_before_any_request_uses_it(microsocks, start_runtime, devnet):
    tor = await start_runtime(socks_port=microsocks.port)

    assert tor.monitor.status is not None and not tor.monitor.status.serving
    assert f"SOCKS port 127.0.0.1:{microsocks.port} is not one of this Tor's SocksPorts" in tor.monitor.status.reason
    with pytest.raises(ProxyUnavailable, match="is not one of this Tor's SocksPorts"):
        await tor.session("chain-read").get(f"{trongrid_url(devnet)}/wallet/getnowblock")
    assert microsocks.destinations() == []


@pytest.fixture
def socks_port_without_isolation(tor_network: TorNetwork) -> Iterator[int]:
    """A second SocksPort on the running client, with NoIsolateSOCKSAuth, for this test only."""
    port = free_port()
    with tor_network.controller() as controller:
        original = controller.get_conf("SocksPort", multiple=True)
        controller.set_conf("SocksPort", [*original, f"127.0.0.1:{port} NoIsolateSOCKSAuth"])
    try:
        yield port
    finally:
        with tor_network.controller() as controller:
            controller.set_conf("SocksPort", original)


async def test_a_tor_socks_port_without_isolation_by_credentials_is_refused(
    socks_port_without_isolation, start_runtime, devnet
):
    tor = await start_runtime(socks_port=socks_port_without_isolation)

    assert tor.monitor.status is not None and not tor.monitor.status.serving
    assert f"SocksPort {socks_port_without_isolation} has NoIsolateSOCKSAuth" in tor.monitor.status.reason
    with pytest.raises(ProxyUnavailable, match="NoIsolateSOCKSAuth"):
        await tor.session("chain-read").get(f"{trongrid_url(devnet)}/wallet/getnowblock")


# -- destinations the exit cannot reach -


async def test_a_name_the_exit_cannot_resolve_is_destination_unreachable_with_socks_reply_4(start_runtime):
    tor = await start_runtime()
    started = time.monotonic()

    with pytest.raises(DestinationUnreachable) as caught:
        await tor.session("chain-read").get("http://no-such-host.invalid/wallet/getnowblock")

    assert caught.value.socks_reply == 4  # host unreachable: tor's answer to RESOLVEFAILED
    assert time.monotonic() - started < 10


async def test_a_refused_port_at_the_exit_is_unavailable_through_the_trongrid_client_within_its_deadline(start_runtime):
    tor = await start_runtime()
    trongrid = single_attempt(f"http://trongrid.test:{free_port()}", tor.proxy)
    started = time.monotonic()

    with pytest.raises(TronGridUnavailable) as caught:
        await trongrid.wallet("getnowblock", deadline_s=5)

    assert caught.value.reason == "TOR_DESTINATION_UNREACHABLE"
    assert time.monotonic() - started < 5.5


async def test_a_stalled_exit_fails_a_request_at_its_deadline_not_later(tor_network, devnet, start_runtime):
    tor = await start_runtime()
    trongrid = single_attempt(trongrid_url(devnet), tor.proxy)
    exit_pid = tor_network.pids["auth0"]
    os.kill(exit_pid, signal.SIGSTOP)  # the exit (also an authority) stops answering: circuits through it hang
    try:
        started = time.monotonic()
        with pytest.raises(TronGridUnavailable):
            await trongrid.wallet("getnowblock", purpose="wallet:stalled", deadline_s=2.0)
        elapsed_s = time.monotonic() - started
    finally:
        os.kill(exit_pid, signal.SIGCONT)

    assert 1.5 < elapsed_s < 2.5
    measured("request with a stalled exit, deadline 2 s", elapsed_s, "s")
    await asyncio.to_thread(tor_network.wait_ready)

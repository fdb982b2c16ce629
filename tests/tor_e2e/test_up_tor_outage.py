"""Tor crashes under the running mesh and comes back: tron-client fails closed and fast, reports NOT_SERVING, and
recovers without any service being restarted; and the fail-closed proof at the service level: the connect() calls
of the service processes, traced through all of it, reached nothing but Tor, MongoDB, Redis and their peers.

One outage serves every test here (`outage`, module scope): the crash, the wait and the recovery are the slow part.
Two tron-clients live through it side by side:
  - the mesh's own, started by `up --tor`, with strace attached to it (and to the six other services) before the
    crash and detached after the recovery;
  - one of the tests' own (`python -m lucid_tron.services.tron_client`) started under `strace -f`, so its trace
    covers the whole life of the process, start-up included.
The crash: SIGKILL to the client tor's pid (endpoints.json "tor"."pids"."client"). The restart: SIGUSR1 to `up`,
which starts that client again on the same torrc, ports and data dir.

A Tor outage is not a TronGrid outage: it must not open TronGridClient's circuit breaker, whose 30 s open period
would keep every read failing (TRONGRID_CIRCUIT_OPEN) long after Tor is back while health already says SERVING.
Hence: no read while Tor is down may be refused by the breaker, and reads come back within seconds of Tor.
`python -m bench --tor` measures how many.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from e2e.e2e_up import Up
from integration.tor_proxy.connect_trace import (
    STRACE_SYSCALLS,
    SocketContact,
    assert_contacted_only,
    dns_contacts,
    parse_strace,
    strace_available,
    strace_command,
)
from lucid_tron.cli._services import MESH
from lucid_tron.testing import free_port
from tor_e2e.tor_e2e_kit import (
    HEALTH_CHECK_INTERVAL_S,
    PAYER,
    AttachedStrace,
    Timeline,
    TracedService,
    TronClientCaller,
    clean_service_env,
    python,
    read_endpoints,
    service_pids,
)

pytestmark = [
    pytest.mark.tor,
    pytest.mark.e2e,
    pytest.mark.skipif(not strace_available(), reason="strace is not installed (apt-get install -y strace)"),
    pytest.mark.timeout(240),
]

#: From spawning tor again to a read through it: tor's ~1-2 s to be ready, the monitor's 1 s recheck, and slack for a
#: loaded 2-core machine; far below TronGridClient's breaker open period (30 s), which must play no part (module doc).
RECOVERY_S = 10.0
DOWN_FOR_S = 3.0  # how long tor stays dead: several of the monitor's 1 s rechecks, all in the trace
READS_WHILE_DOWN = 5


@dataclass
class Outage:
    endpoints: dict[str, Any]
    timelines: dict[str, Timeline]  # "mesh", "traced"
    pids_before: dict[str, int]
    pids_after: dict[str, int]
    tor_client_pids: tuple[int, int]  # before the crash, after the restart
    mesh_contacts: dict[str, list[SocketContact]]  # per service, while strace was attached
    traced_contacts: list[SocketContact]  # the tests' own tron-client, its whole life
    traced_exit_code: int
    killed_wall: float
    restarted_wall: float

    @property
    def socks(self) -> tuple[str, int]:
        return ("127.0.0.1", self.endpoints["tor"]["socks_port"])

    @property
    def control(self) -> tuple[str, int]:
        return ("127.0.0.1", self.endpoints["tor"]["control_port"])

    def while_down(self, contacts: list[SocketContact]) -> list[SocketContact]:
        return [c for c in contacts if c.at is not None and self.killed_wall <= c.at < self.restarted_wall]


@pytest.fixture(scope="module")
async def outage(
    tor_mesh: Up, tron_client: TronClientCaller, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Outage]:
    work = tmp_path_factory.mktemp("tor-outage")
    endpoints = tor_mesh.endpoints
    tor = endpoints["tor"]
    traced = _start_traced_tron_client(tor, work)
    traced_caller = TronClientCaller(traced.address)
    attached: dict[str, AttachedStrace] = {}
    tor_client_pid = tor["pids"]["client"]
    try:
        await traced_caller.wait_serving(True, 60)
        pids_before = service_pids(tor_mesh)
        assert set(pids_before) == {service.name for service in MESH}, pids_before  # the seven and the sidecar
        for name, pid in pids_before.items():
            attached[name] = AttachedStrace.attach([pid], work / f"{name}.trace", STRACE_SYSCALLS)
        callers = {"mesh": tron_client, "traced": traced_caller}
        timelines = {
            "mesh": Timeline("the mesh's tron-client", pids_before["tron-client"]),
            "traced": Timeline("the tests' traced tron-client", traced.service_pid),
        }

        for key, caller in callers.items():
            for _ in range(3):
                timelines[key].before += [await caller.now_block(), await caller.account(PAYER.address)]

        os.kill(tor_client_pid, signal.SIGKILL)
        killed, killed_wall = time.monotonic(), time.time()
        await asyncio.gather(*(_watch_the_crash(callers[key], timelines[key], killed) for key in callers))
        await asyncio.sleep(max(0.0, killed + DOWN_FOR_S - time.monotonic()))

        os.kill(tor["up_pid"], signal.SIGUSR1)
        restarted, restarted_wall = time.monotonic(), time.time()
        await asyncio.gather(*(_watch_the_recovery(callers[key], timelines[key], restarted) for key in callers))
        for key, caller in callers.items():
            timelines[key].after += [await caller.now_block(), await caller.account(PAYER.address)]

        pids_after = service_pids(tor_mesh)
        timelines["mesh"].pid_after = pids_after.get("tron-client")
        timelines["traced"].pid_after = traced.service_pid
        new_tor_client_pid = read_endpoints(tor_mesh)["tor"]["pids"]["client"]
    finally:
        for strace in attached.values():
            strace.detach()
        traced_exit = traced.stop()
        await traced_caller.close()
        if read_endpoints(tor_mesh)["tor"]["pids"]["client"] == tor_client_pid and not _alive(tor_client_pid):
            os.kill(tor["up_pid"], signal.SIGUSR1)  # the scenario broke off while tor was dead: leave it running

    result = Outage(
        endpoints=endpoints,
        timelines=timelines,
        pids_before=pids_before,
        pids_after=pids_after,
        tor_client_pids=(tor_client_pid, new_tor_client_pid),
        mesh_contacts={name: parse_strace(strace.trace_path.read_text()) for name, strace in attached.items()},
        traced_contacts=parse_strace(traced.trace_path.read_text()),
        traced_exit_code=traced_exit,
        killed_wall=killed_wall,
        restarted_wall=restarted_wall,
    )
    _report(result)
    yield result


def _start_traced_tron_client(tor: dict[str, Any], work: Path) -> TracedService:
    port = free_port()
    env = clean_service_env(
        GRPC_HOST="127.0.0.1",
        GRPC_PORT=str(port),
        # A tron-client of the test's own beside the mesh: about Tor, not about mutual TLS.
        GRPC_INSECURE_PLAINTEXT="true",
        LOG_FORMAT="json",
        SHUTDOWN_GRACE_S="1",
        SECRETS_DIR=str(work),
        TRONGRID_URL=tor["trongrid_url"],
        # Tor required, as in production.
        USE_TOR_FOR_EXTERNAL_CALLS="true",
        TOR_PROXY_HOST="127.0.0.1",
        TOR_PROXY_SOCKS_PORT=str(tor["socks_port"]),
        TOR_PROXY_CONTROL_PORT=str(tor["control_port"]),
        TOR_CONTROL_COOKIE_PATH=tor["control_cookie_path"],
        TOR_HEALTH_CHECK_INTERVAL=str(HEALTH_CHECK_INTERVAL_S),
    )
    trace_path, log_path = work / "traced-tron-client.trace", work / "traced-tron-client.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            strace_command([python(), "-m", "lucid_tron.services.tron_client"], trace_path),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return TracedService(process, trace_path, log_path, f"127.0.0.1:{port}")


async def _watch_the_crash(caller: TronClientCaller, timeline: Timeline, killed: float) -> None:
    await caller.wait_serving(False, HEALTH_CHECK_INTERVAL_S + 10)
    timeline.not_serving_after_kill_s = time.monotonic() - killed
    for _ in range(READS_WHILE_DOWN):
        timeline.while_down.append(await caller.now_block())


async def _watch_the_recovery(caller: TronClientCaller, timeline: Timeline, restarted: float) -> None:
    serving = asyncio.create_task(caller.wait_serving(True, RECOVERY_S + 30))
    try:
        while True:
            outcome = await caller.now_block()
            if outcome.ok:
                timeline.first_read_after_restart_s = outcome.at - restarted
                break
            assert time.monotonic() - restarted < RECOVERY_S + 30, f"{timeline.name}: no read since the restart"
            await asyncio.sleep(0.25)
        timeline.serving_after_restart_s = await serving
    finally:
        serving.cancel()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def _report(outage: Outage) -> None:
    for timeline in outage.timelines.values():
        down = [o.ms for o in timeline.while_down]
        print(
            f"MEASURED {timeline.name}: NOT_SERVING {timeline.not_serving_after_kill_s:.2f} s after the kill; "
            f"{len(down)} reads while down, {sorted({(o.code, o.reason) for o in timeline.while_down})}: "
            f"first {down[0]:.0f} ms, median {statistics.median(down):.1f} ms, max {max(down):.0f} ms; "
            f"after SIGUSR1: SERVING in {timeline.serving_after_restart_s:.2f} s, "
            f"first good read in {timeline.first_read_after_restart_s:.2f} s"
        )
    counts = {name: len(contacts) for name, contacts in outage.mesh_contacts.items()}
    print(f"MEASURED contacts traced: mesh {counts}, the traced tron-client {len(outage.traced_contacts)}")


# -- fail fast, NOT_SERVING ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["mesh", "traced"])
def test_with_tor_killed_tron_client_answers_unavailable_in_seconds_not_at_its_deadline(
    outage: Outage, who: str
) -> None:
    timeline = outage.timelines[who]
    assert all(outcome.ok for outcome in timeline.before), timeline.before
    assert {outcome.code for outcome in timeline.while_down} == {"UNAVAILABLE"}, timeline.while_down
    assert "TRONGRID_CIRCUIT_OPEN" not in {outcome.reason for outcome in timeline.while_down}, timeline.while_down
    # Deadline 10 s, CALL_TIMEOUT_S 30 s: within 1 s is a refusal before any socket (the monitor saw tor die), not
    # TronGridClient retrying with backoff (up to 1.75 s) and never a wait for the deadline. Measured: ~3 ms.
    assert max(outcome.ms for outcome in timeline.while_down) < 1000, timeline.while_down


@pytest.mark.parametrize("who", ["mesh", "traced"])
def test_with_tor_killed_tron_client_reports_not_serving_within_one_health_check_interval(
    outage: Outage, who: str
) -> None:
    timeline = outage.timelines[who]
    assert timeline.not_serving_after_kill_s is not None
    assert timeline.not_serving_after_kill_s < HEALTH_CHECK_INTERVAL_S + 1.0


# -- recovery ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["mesh", "traced"])
def test_after_tor_restarts_tron_client_serves_and_reads_again_in_the_same_process(
    outage: Outage, who: str
) -> None:
    timeline = outage.timelines[who]
    assert timeline.pid_after == timeline.pid
    assert timeline.serving_after_restart_s is not None and timeline.serving_after_restart_s < RECOVERY_S
    assert timeline.first_read_after_restart_s is not None and timeline.first_read_after_restart_s < RECOVERY_S
    assert all(outcome.ok for outcome in timeline.after), timeline.after


def test_no_service_of_the_mesh_was_restarted_only_tor_was(outage: Outage) -> None:
    assert outage.pids_after == outage.pids_before
    old_client, new_client = outage.tor_client_pids
    assert new_client != old_client and _alive(new_client)


# -- where the processes connected ---------------------------------------------------------------------------------


def test_the_traced_tron_client_contacted_only_tors_socks_and_control_ports_from_start_to_exit(outage: Outage) -> None:
    contacts = outage.traced_contacts
    assert outage.traced_exit_code == 0

    assert_contacted_only(contacts, allowed={outage.socks, outage.control})
    assert dns_contacts(contacts, extra_ports=[outage.endpoints["tor"]["dns_port"]]) == []
    # It kept trying while tor was dead: and only tor.
    assert any(contact.endpoint == outage.socks for contact in outage.while_down(contacts))


def test_mesh_tron_client_contacted_only_tors_socks_and_control_ports(outage: Outage) -> None:
    contacts = outage.mesh_contacts["tron-client"]
    assert_contacted_only(contacts, allowed={outage.socks, outage.control})
    assert dns_contacts(contacts, extra_ports=[outage.endpoints["tor"]["dns_port"]]) == []
    assert any(contact.endpoint == outage.socks for contact in outage.while_down(contacts))


def test_mesh_tron_relay_contacted_only_tor_and_redis(outage: Outage) -> None:
    contacts = outage.mesh_contacts["tron-relay"]
    redis = ("127.0.0.1", int(outage.endpoints["redis_url"].rsplit(":", 1)[1].split("/")[0]))
    assert_contacted_only(contacts, allowed={outage.socks, outage.control, redis})
    assert dns_contacts(contacts, extra_ports=[outage.endpoints["tor"]["dns_port"]]) == []


def test_no_other_service_contacted_anything_but_mongodb_redis_and_its_peers(outage: Outage) -> None:
    endpoints = outage.endpoints
    mongo_port = int(endpoints["mongo_url"].split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    redis_port = int(endpoints["redis_url"].rsplit(":", 1)[1].split("/")[0])
    peers = {(host, int(port)) for host, port in (address.rsplit(":", 1) for address in endpoints["services"].values())}
    allowed = {("127.0.0.1", mongo_port), ("127.0.0.1", redis_port), *peers}
    for name, contacts in outage.mesh_contacts.items():
        if name in ("tron-client", "tron-relay"):
            continue
        assert_contacted_only(contacts, allowed=allowed)
        assert dns_contacts(contacts) == [], name


def test_no_traced_process_ever_connected_to_devnet_itself(outage: Outage) -> None:
    devnet_port = int(outage.endpoints["devnet"]["url"].rsplit(":", 1)[1])
    everything = [*outage.traced_contacts, *(c for contacts in outage.mesh_contacts.values() for c in contacts)]
    assert [contact.line for contact in everything if contact.port == devnet_port] == []


# -- a restart of a running tor -------------------------------------------------------------------------------


async def test_sigusr1_to_up_restarts_a_running_tor_client_and_tron_client_reads_again(
    tor_mesh: Up, tron_client: TronClientCaller
) -> None:
    old = read_endpoints(tor_mesh)["tor"]["pids"]["client"]
    assert _alive(old)

    os.kill(tor_mesh.process.pid, signal.SIGUSR1)
    restarted = time.monotonic()
    new = old
    while new == old:
        assert time.monotonic() - restarted < RECOVERY_S, "endpoints.json still names the old tor client"
        await asyncio.sleep(0.05)
        new = read_endpoints(tor_mesh)["tor"]["pids"]["client"]
    while not (outcome := await tron_client.now_block()).ok:
        assert time.monotonic() - restarted < RECOVERY_S, outcome
        await asyncio.sleep(0.1)

    assert _alive(new) and not _alive(old)
    # Health follows at the Tor monitor's next check (every HEALTH_CHECK_INTERVAL_S), which on a loaded machine can
    # come after the first good read: SERVING within the recovery time from here, not at this very instant.
    await tron_client.wait_serving(True, RECOVERY_S)
    assert "SIGUSR1: Tor client stopped" in tor_mesh.output

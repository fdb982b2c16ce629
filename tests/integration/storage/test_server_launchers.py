"""lucid_tron.testing starts real servers on free loopback ports and cleans up after them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from lucid_tron.testing import (
    MongoServer,
    RedisServer,
    ServerStartError,
    free_port,
    mongo_answers,
    redis_answers,
)
from lucid_tron.testing._ports import LOCK_PATH, release_port

# Another process's attempt to take a port's reservation: "held" when a process holds it, "free" when it was taken.
_TAKE_RESERVATION = '''
import fcntl, sys
with open(sys.argv[1], "r+") as lock_file:
    try:
        fcntl.lockf(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, int(sys.argv[2]))
    except OSError:
        print("held")
    else:
        print("free")
'''


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _held_against_another_process(port: int) -> bool:
    outcome = subprocess.run(
        [sys.executable, "-c", _TAKE_RESERVATION, str(LOCK_PATH), str(port)], capture_output=True, text=True, check=True
    )
    return outcome.stdout.strip() == "held"


def test_free_port_gives_distinct_ports_that_can_be_bound():
    ports = {free_port() for _ in range(20)}

    assert len(ports) == 20
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_free_port_is_below_the_kernels_ephemeral_range_where_no_connection_takes_it_on_its_own():
    ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])

    assert 20000 <= free_port() < ephemeral_low


def test_a_port_from_free_port_is_held_against_other_processes_until_released():
    port = free_port()
    assert _held_against_another_process(port)

    release_port(port)

    assert not _held_against_another_process(port)


def test_a_killed_server_keeps_its_port_held_until_it_is_stopped():
    with RedisServer() as server:
        server.kill()
        assert _held_against_another_process(server.port)

    assert not _held_against_another_process(server.port)


def test_a_mongo_server_answers_at_its_url_until_stopped():
    with MongoServer() as server:
        assert mongo_answers(server.url)
        pid, workdir = server.pid, server.workdir

    assert not mongo_answers(server.url, timeout=0.3)
    assert not _alive(pid)
    assert not workdir.exists()


async def test_a_mongo_server_is_the_primary_of_replica_set_secantus(mongo_server):
    client: AsyncMongoClient = AsyncMongoClient(mongo_server.url)
    try:
        hello = await client.admin.command("hello")
    finally:
        await client.close()

    assert hello["setName"] == "secantus"
    assert hello["isWritablePrimary"] is True


async def test_a_server_starts_and_stops_in_async_with():
    async with RedisServer() as server:
        assert redis_answers(server.url)

    assert not redis_answers(server.url, timeout=0.3)


def test_server_output_goes_to_its_log_file_not_to_the_test_output(capfd, tmp_path):
    with RedisServer(workdir=tmp_path) as server:
        pass

    captured = capfd.readouterr()
    assert server.log_path.parent == tmp_path
    assert "Ready to accept connections" in server.log_path.read_text()
    assert "Ready to accept" not in captured.out + captured.err


def test_a_killed_redis_stops_answering_and_restarts_on_the_same_port():
    with RedisServer() as server:
        url = server.url
        server.kill()
        assert not redis_answers(url, timeout=0.3)

        server.restart()

        assert server.url == url
        assert redis_answers(url)


def test_a_server_that_cannot_start_raises_with_its_log():
    with pytest.raises(ServerStartError, match="Bad directive"):
        with RedisServer(extra_args=["--no-such-directive", "yes"]):
            pass


def test_a_taken_port_given_explicitly_is_an_error_not_a_hang():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(ServerStartError):
            with RedisServer(port=port, start_timeout=5):
                pass


def test_answers_probes_are_false_when_nothing_listens():
    port = free_port()

    assert not redis_answers(f"redis://127.0.0.1:{port}/0", timeout=0.3)
    assert not mongo_answers(f"mongodb://127.0.0.1:{port}/?directConnection=true", timeout=0.3)
    assert not redis_answers("not a url", timeout=0.3)

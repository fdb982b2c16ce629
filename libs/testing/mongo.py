"""A real MongoDB-wire server for tests, benchmarks and `lucid-tron up`: SecantusDB's `secantusd-py` daemon.

SecantusDB (PyPI `secantusdb`, GPL-2.0-only) is a test/dev dependency: this module imports nothing from
it and only runs its command, so nothing GPL is linked into what ships.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ._process import ServerProcess

__all__ = ["MEMORY", "MongoServer", "mongo_answers"]

#: `storage_path` value for an ephemeral in-memory store (WiredTiger in_memory): gone when the server stops.
MEMORY = ":memory:"

_COMMAND = "secantusd-py"


class MongoServer(ServerProcess):
    """`secantusd-py --host 127.0.0.1 --port N --storage-path PATH` as a child process.

    SecantusDB presents itself as the primary of a one-node replica set named "secantus", so `url` names
    that set: the client takes the replica-set code path it takes in production (transactions, change
    streams). `storage_path` is `MEMORY` (the default: fresh, ephemeral) or a directory that is reopened
    by `restart()`; the launcher never deletes a directory passed in. Only writes acknowledged with
    `j=True` are sure to survive `kill()` (measured: w=1 writes within ~0.2 s of a SIGKILL are lost).

    Use one server per test session: SecantusDB slows down after ~10,000 retryable writes.
    `extra_args` go to secantusd-py as they are (e.g. `["--enable-test-commands"]` for fail points).

        with MongoServer() as mongo:             # or: async with MongoServer() as mongo
            client = AsyncMongoClient(mongo.url)
    """

    kind = "mongo"
    replica_set = "secantus"

    def __init__(
        self,
        storage_path: str | os.PathLike[str] = MEMORY,
        *,
        extra_args: Sequence[str] = (),
        port: int | None = None,
        workdir: str | os.PathLike[str] | None = None,
        keep_workdir: bool = False,
        start_timeout: float = 20.0,
        stop_timeout: float = 10.0,
    ) -> None:
        super().__init__(
            port=port,
            workdir=workdir,
            keep_workdir=keep_workdir,
            start_timeout=start_timeout,
            stop_timeout=stop_timeout,
        )
        # Resolved here: the daemon runs in the workdir, where a relative path would mean something else.
        self.storage_path = MEMORY if str(storage_path) == MEMORY else str(Path(storage_path).resolve())
        self.extra_args = tuple(extra_args)

    @property
    def url(self) -> str:
        return f"mongodb://{self.host}:{self.port}/?replicaSet={self.replica_set}"

    def _command(self) -> list[str]:
        # An explicit, empty config file: without --config the daemon would pick up a secantusd.toml
        # from the working directory or the user's home.
        config = self.workdir / "secantusd.toml"
        config.touch()
        return [
            _executable(),
            "--config", str(config),
            "--host", self.host,
            "--port", str(self.port),
            "--storage-path", self.storage_path,
            *self.extra_args,
        ]  # fmt: skip

    def _environment(self) -> dict[str, str]:
        # The in-memory store still makes a scratch dir under TMPDIR, which a SIGKILL would leave
        # behind: put it in the workdir, which stop() deletes.
        scratch = self.workdir / "tmp"
        scratch.mkdir(exist_ok=True)
        return {**os.environ, "TMPDIR": str(scratch)}

    def _answers(self, timeout: float) -> bool:
        return mongo_answers(self.url, timeout)

    def _wait_exit(self, process: subprocess.Popen[bytes], timeout: float) -> bool:
        # Two quirks of the daemon (secantusd-py 0.7.0b3 on CPython), found by measuring:
        # - its SIGTERM handler closes the listening socket, then joins the accept thread for up to 2 s;
        #   on Linux closing a socket does not wake a thread blocked in accept(), but one connection does,
        #   and the daemon then exits in ~50 ms.
        # - about one SIGTERM in ten is taken by a non-main thread while the main thread sleeps in a
        #   lock wait that only a signal to itself interrupts, so the Python handler never runs. The
        #   first thing the handler does is close the listening socket: a port that still accepts
        #   connections a second after the signal means it did not run, and the signal is sent again.
        began = last_signal = time.monotonic()
        while process.poll() is None:
            now = time.monotonic()
            if now - began >= timeout:
                return False
            try:
                with socket.create_connection((self.host, self.port), timeout=0.05):
                    listening = True
            except OSError:
                listening = False
            if listening and now - last_signal >= 1.0:
                self._note("SIGTERM not handled after 1 s; sending it again")
                process.send_signal(signal.SIGTERM)
                last_signal = now
            time.sleep(0.02)
        return True


def mongo_answers(url: str, timeout: float = 1.0) -> bool:
    """True when a MongoDB server at `url` answers `ping` within about `timeout` seconds."""
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    ms = max(1, int(timeout * 1000))
    client: MongoClient = MongoClient(
        url, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms, appname="lucid-tron-probe"
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def _executable() -> str:
    # Next to the running interpreter first: a venv's scripts are there even when the venv is not activated.
    beside = Path(sys.executable).parent / _COMMAND
    if beside.is_file():
        return str(beside)
    found = shutil.which(_COMMAND)
    if found is None:
        raise FileNotFoundError(
            f"{_COMMAND} not found next to {sys.executable} nor on PATH: install the test extras "
            '(pip install -c constraints.txt -e ".[test]")'
        )
    return found

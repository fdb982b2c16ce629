"""One real server as a child process: start on a free loopback port, wait until it answers, stop cleanly.

The launchers (`MongoServer`, `RedisServer`) only say how to run their server and how to ask it whether
it is ready; the lifecycle is here, shared.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from ._ports import LOOPBACK, free_port, release_port

__all__ = ["ServerProcess", "ServerStartError"]

# Children are stopped at interpreter exit too, so an interrupted test run leaves no server behind.
# (A SIGKILLed test process still can: nothing in Python runs then.)
_live: set[ServerProcess] = set()


@atexit.register
def _stop_live_servers() -> None:
    for server in list(_live):
        server.stop()


class ServerStartError(RuntimeError):
    """The server did not answer within its start timeout, or exited while starting. The message ends
    with the tail of its log."""


class ServerProcess(ABC):
    """Lifecycle of one server child process on 127.0.0.1.

    `workdir` holds the server's log (`log_path`) and scratch files. When the launcher creates it (the
    default), `stop()` deletes it, unless `keep_workdir` is true; a workdir passed in is never deleted.
    The log gets the child's stdout and stderr, appended across restarts, never the test's output.
    """

    #: Short name used in temp-dir names and messages, e.g. "mongo".
    kind: str = "server"
    #: Start attempts with a new port when the child exits early (another process took the port).
    _start_attempts = 3

    def __init__(
        self,
        *,
        port: int | None = None,
        workdir: str | os.PathLike[str] | None = None,
        keep_workdir: bool = False,
        start_timeout: float = 15.0,
        stop_timeout: float = 10.0,
    ) -> None:
        # A port given by the caller is the caller's to reserve; one the launcher picks is held (see _ports) from here
        # until stop(), so a kill() or restart() never loses it to another process.
        self._fixed_port = port is not None
        self.port: int = port if port is not None else free_port()
        self._holds_port = not self._fixed_port
        self.host = LOOPBACK
        self._owns_workdir = workdir is None
        self._keep_workdir = keep_workdir
        if workdir is None:
            workdir = tempfile.mkdtemp(prefix=f"lucid-tron-{self.kind}-")
        self.workdir = Path(workdir)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._started_once = False
        self.started_in_s: float | None = None

    # -- what a launcher provides ------------------------------------------------------------------

    @property
    @abstractmethod
    def url(self) -> str:
        """The client URL of this server."""

    @abstractmethod
    def _command(self) -> Sequence[str]:
        """argv of the server, listening on `self.host:self.port`."""

    @abstractmethod
    def _answers(self, timeout: float) -> bool:
        """True when the server answers a protocol-level ping within `timeout` seconds."""

    def _environment(self) -> dict[str, str]:
        return dict(os.environ)

    def _wait_exit(self, process: subprocess.Popen[bytes], timeout: float) -> bool:
        """Wait up to `timeout` seconds for the child to exit after SIGTERM; True if it did."""
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        """True while the child process exists (it may still be starting)."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start the server and wait until it answers; raise `ServerStartError` otherwise."""
        if self.running:
            raise RuntimeError(f"{self.kind} server already running on port {self.port}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self._fixed_port and not self._holds_port:  # stopped earlier, its port given back: a new one
            self.port = free_port()
            self._holds_port = True
        began = time.monotonic()
        attempts = 1 if (self._fixed_port or self._started_once) else self._start_attempts
        for attempt in range(1, attempts + 1):
            try:
                self._spawn_and_wait()
                break
            except _ExitedWhileStarting:
                if attempt == attempts:
                    what = f"exited while starting on port {self.port}"
                    raise ServerStartError(self._failure(what)) from None
                release_port(self.port)
                self.port = free_port()
        self._started_once = True
        self.started_in_s = time.monotonic() - began
        _live.add(self)
        return self

    def terminate(self) -> None:
        """Stop the process: SIGTERM, then SIGKILL after `stop_timeout` seconds. Keeps the workdir."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            if not self._wait_exit(process, self.stop_timeout):
                process.kill()
                process.wait()
        self._process = None

    def kill(self) -> None:
        """SIGKILL the process now (a crash, as tests simulate it). Keeps the workdir; `restart()` works."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.kill()
            process.wait()
        self._process = None

    def restart(self) -> Self:
        """Stop the process if it runs and start it again on the same port (clients keep their URL)."""
        self.terminate()
        return self.start()

    def stop(self) -> None:
        """Terminate the process, give back a port the launcher picked and delete the workdir if the launcher created
        it. Safe to call twice; start() afterwards picks a new port."""
        self.terminate()
        _live.discard(self)
        if self._holds_port:
            release_port(self.port)
            self._holds_port = False
        if self._owns_workdir and not self._keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- context managers --------------------------------------------------------------------------

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        # Starting blocks for up to start_timeout: keep the event loop free meanwhile.
        return await asyncio.to_thread(self.__enter__)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {self.url} {state} pid={self.pid} log={self.log_path}>"

    # -- internals ---------------------------------------------------------------------------------

    def _spawn_and_wait(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        self._note(f"starting {self.kind} on {self.host}:{self.port}")
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                list(self._command()),
                cwd=self.workdir,
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C in the terminal reaches the test runner, which then stops
                # the servers in order, instead of killing them under a test.
                start_new_session=True,
            )
        self._wait_listening(deadline)
        while True:
            remaining = deadline - time.monotonic()
            if self._answers(max(0.2, min(remaining, 1.0))):
                return
            self._check_alive()
            if time.monotonic() >= deadline:
                self.kill()
                raise ServerStartError(self._failure(f"did not answer within {self.start_timeout:.1f} s"))
            time.sleep(0.05)

    def _wait_listening(self, deadline: float) -> None:
        """Wait for the TCP port to accept connections: cheaper to poll than a protocol ping."""
        while True:
            self._check_alive()
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                pass
            if time.monotonic() >= deadline:
                self.kill()
                raise ServerStartError(self._failure(f"did not listen within {self.start_timeout:.1f} s"))
            time.sleep(0.01)

    def _check_alive(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            self._process = None
            raise _ExitedWhileStarting

    def _note(self, line: str) -> None:
        """Append a line of the launcher's own to the server log."""
        with open(self.log_path, "a") as log:
            log.write(f"--- lucid-tron: {line}\n")

    def _failure(self, what: str) -> str:
        return f"{self.kind} server {what}; log {self.log_path}:\n{self.log_tail()}"


class _ExitedWhileStarting(Exception):
    """The child exited before answering: most often its port was taken in the meantime."""

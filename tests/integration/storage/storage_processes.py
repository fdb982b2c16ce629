"""Real worker processes for the storage tests: run a worker script, read its reports, stop or kill it like a crash."""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lucid_tron.testing import ServerProcess

WORKERS = Path(__file__).with_name("storage_workers.py")


def stop_process(pid: int, timeout: float = 2.0) -> None:
    """SIGSTOP `pid` and return once every one of its threads is stopped: the signal takes effect asynchronously,
    and a thread still running on another core could otherwise answer one more request."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + timeout
    while not _all_threads_stopped(pid):
        if time.monotonic() > deadline:
            raise TimeoutError(f"process {pid} did not stop within {timeout} s")
        time.sleep(0.005)


def _all_threads_stopped(pid: int) -> bool:
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except FileNotFoundError:
            continue  # the thread ended
        if stat.rsplit(")", 1)[1].split()[0] not in ("T", "t"):
            return False
    return True


@contextmanager
def paused(server: ServerProcess) -> Iterator[None]:
    """The server SIGSTOPped (hung: connections stay open, nothing answers) for the block, then continued."""
    assert server.pid is not None
    try:
        stop_process(server.pid)
        yield
    finally:
        os.kill(server.pid, signal.SIGCONT)


class Worker:
    """`python storage_workers.py ARGS...`: each line it prints is a report, read by a thread into a queue."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen([sys.executable, str(WORKERS), *args], stdout=subprocess.PIPE, text=True)
        self._reports: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._reports.put(line.strip())
        self._reports.put(None)

    def wait_for(self, expected: str, timeout: float = 10.0) -> list[str]:
        """Reports up to the first that starts with `expected` (that one last); TimeoutError after `timeout` s."""
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        while not lines or not lines[-1].startswith(expected):
            try:
                line = self._reports.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"no report {expected!r} within {timeout} s; got {lines}") from None
            if line is None:
                raise RuntimeError(f"worker exited with {self.process.wait()} before {expected!r}; got {lines}")
            lines.append(line)
        return lines

    async def reported(self, expected: str, timeout: float = 10.0) -> list[str]:
        """`wait_for` off the event loop: an async test that blocked its loop for seconds would leave pymongo's
        monitor a heartbeat overdue, and the pool it then clears cancels the test's next operation."""
        return await asyncio.to_thread(self.wait_for, expected, timeout)

    def drain(self) -> list[str]:
        """The reports received and not read yet."""
        lines = []
        while not self._reports.empty():
            line = self._reports.get_nowait()
            if line is not None:
                lines.append(line)
        return lines

    def stop(self) -> None:
        stop_process(self.pid)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL and reap. No SIGCONT first (SIGKILL ends a stopped process too): a worker continued for a moment
        could open a transaction that the kill then leaves open, which stalls the server's writes for 60 s."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

"""The child processes `up` starts itself (devnet and the services): spawn with a log file, stop with a grace period.

Each child runs in its own session, so a Ctrl-C in the terminal reaches `up` alone, which then stops the children
in order (services before what they use); a child that got the SIGINT too would race `up` and look like a crash.
On Linux each child also gets SIGTERM when `up` dies (PR_SET_PDEATHSIG), so even a SIGKILLed `up` leaves nothing
running.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["Child", "tail"]

_PR_SET_PDEATHSIG = 1


class Child:
    """One process started by `up`: its name, its log, its exit."""

    def __init__(self, name: str, process: asyncio.subprocess.Process, log_path: Path) -> None:
        self.name = name
        self.process = process
        self.log_path = log_path

    @classmethod
    async def spawn(
        cls,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        log_path: Path,
        stdout_pipe: bool = False,
    ) -> Child:
        """Start `argv`; stderr (and stdout unless `stdout_pipe`) go to `log_path`, which is truncated first."""
        with open(log_path, "wb") as log:
            process = await asyncio.create_subprocess_exec(
                *argv,
                env=dict(env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE if stdout_pipe else log,
                stderr=log,
                start_new_session=True,
                preexec_fn=_die_with_parent_preexec(),
            )
        return cls(name, process, log_path)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    async def wait(self) -> int:
        return await self.process.wait()

    async def stop(self, grace_s: float) -> bool:
        """SIGTERM, then SIGKILL if it has not exited after `grace_s`. True when it exited by itself."""
        if self.process.returncode is not None:
            return True
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(grace_s):
                await self.process.wait()
            return True
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
            return False

    def log_tail(self, lines: int = 20) -> str:
        return tail(self.log_path, lines)


def tail(path: Path, lines: int = 20) -> str:
    """The last `lines` lines of a log file ("" when there is none)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _die_with_parent_preexec() -> object:
    """A preexec_fn that makes the child receive SIGTERM when this process dies (Linux), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        # The parent may have died between fork and prctl: then nobody would ever signal this child.
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec

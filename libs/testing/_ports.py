"""Free loopback TCP ports for servers started by tests, reserved so that no other process on this machine takes them.

Asking the kernel for a free port (binding port 0) made parallel runs (pytest-xdist workers, two checkouts' suites, a
benchmark beside a test run) flaky: the kernel picks from one ephemeral range for every process, for listening sockets
and for the local end of every outgoing connection alike, so a test that stops a server and starts it again on its
port found the port taken by another worker's server, or by any connection's local end, in between.

So a port comes from below the kernel's ephemeral range (`ip_local_port_range`), which the kernel never picks on its
own, and is reserved with a POSIX record lock on the byte at offset `port` of one lock file shared by every process
(`LOCK_PATH`). The reservation lasts until `release_port(port)` or the end of the process, however it ends (the kernel
drops a dead process's locks), so a server stopped and started again keeps its port through the gap.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import socket
import threading
from pathlib import Path

LOOPBACK = "127.0.0.1"

#: One file for every process that reserves ports: a byte of it locked by a process is a port that process holds.
LOCK_PATH = Path("/tmp/lucid-tron-ports.lock")

# Ports below this are left alone: well-known and registered services (Redis 6379, Tor 9050, ...) live there.
_LOWEST = 20000
# Fewer ports than this below the ephemeral range (a machine that starts it low): take them from 20000 to 65535, where
# the reservations still keep our processes apart but an outgoing connection's local end may sit on one.
_ENOUGH = 4096
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")

_lock = threading.Lock()
_reserved: set[int] = set()
_lock_fd: int | None = None
_candidates: range | None = None
# Where the next search starts: a random place per process, so concurrent processes rarely contend, then onwards, so
# a released port comes back only after every other one had its turn.
_next_index: int | None = None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, reserved for this process until `release_port` or exit.

    No other process that takes its ports from here gets it meanwhile, and the kernel never picks it for a socket.
    """
    global _next_index
    with _lock:
        candidates = _candidate_ports()
        if _next_index is None:
            _next_index = random.randrange(len(candidates))
        for _ in range(len(candidates)):
            port = candidates[_next_index]
            _next_index = (_next_index + 1) % len(candidates)
            if port in _reserved or not _lock_byte(port, fcntl.LOCK_EX | fcntl.LOCK_NB):
                continue
            if _can_bind(port):
                _reserved.add(port)
                return port
            _lock_byte(port, fcntl.LOCK_UN)
    raise RuntimeError(f"no free loopback port in {candidates.start}-{candidates.stop - 1}: all reserved or taken")


def release_port(port: int) -> None:
    """Give back a port from `free_port` once nothing of this process will bind it again. Another port is a no-op."""
    with _lock:
        if port in _reserved:
            _reserved.discard(port)
            _lock_byte(port, fcntl.LOCK_UN)


def _candidate_ports() -> range:
    global _candidates
    if _candidates is None:
        try:
            ephemeral_low = int(_EPHEMERAL_RANGE.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            ephemeral_low = 32768  # Linux's default
        enough_below = ephemeral_low - _LOWEST >= _ENOUGH
        _candidates = range(_LOWEST, ephemeral_low if enough_below else 65536)
    return _candidates


def _lock_byte(port: int, operation: int) -> bool:
    global _lock_fd
    if _lock_fd is None:
        # Opened once and never closed: closing any descriptor of the file would drop all of this process's locks.
        _lock_fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        with contextlib.suppress(PermissionError):  # only its creator may; every user's processes must lock it
            os.fchmod(_lock_fd, 0o666)
    try:
        fcntl.lockf(_lock_fd, operation, 1, port)
    except OSError:  # EACCES or EAGAIN: another process holds it
        return False
    return True


def _can_bind(port: int) -> bool:
    # Without SO_REUSEADDR: a port with connections of an earlier server still in TIME_WAIT is passed over too.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True

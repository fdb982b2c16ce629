"""Free loopback TCP ports for servers started by tests."""

from __future__ import annotations

import socket
import threading

LOOPBACK = "127.0.0.1"

# Ports already handed out by this process. The kernel may offer the same ephemeral port twice while
# the first server is still starting; remembering them avoids that collision within one process.
_handed_out: set[int] = set()
_lock = threading.Lock()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now and that this process has not handed out before.

    Another process can still take it before the caller binds it: launchers retry with a new port when
    their server fails to bind.
    """
    with _lock:
        for _ in range(64):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((LOOPBACK, 0))
                port = sock.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise RuntimeError("no free loopback port found after 64 tries")

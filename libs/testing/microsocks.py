"""Debian's microsocks, a plain SOCKS5 server: the fast stand-in for Tor's SOCKS port in unit tests.

It logs each destination exactly as the client asked for it, so a test can see that a hostname, not an address
resolved on this machine, reached the proxy. It has no circuits, control port or isolation: Tor-specific tests
use `TorNetwork`.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Sequence

from ._process import ServerProcess

_CONNECTED = re.compile(r"connected to (\S+)")


class MicrosocksServer(ServerProcess):
    """microsocks on 127.0.0.1; `destinations()` are the `host:port` it connected to, as asked.

    With `username`/`password` it accepts only those credentials.
    """

    kind = "microsocks"

    def __init__(self, *, username: str | None = None, password: str | None = None) -> None:
        super().__init__(start_timeout=5.0, stop_timeout=2.0)
        self.username = username
        self.password = password

    @property
    def url(self) -> str:
        return f"socks5h://{self.host}:{self.port}"

    def _command(self) -> Sequence[str]:
        command = ["microsocks", "-i", self.host, "-p", str(self.port)]
        if self.username is not None and self.password is not None:
            command += ["-u", self.username, "-P", self.password]
        return command

    def _answers(self, timeout: float) -> bool:
        # Offer both methods, as tor_proxy does; any valid method choice means it is up.
        try:
            with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
                sock.sendall(b"\x05\x02\x00\x02")
                return sock.recv(2) in (b"\x05\x00", b"\x05\x02")
        except OSError:
            return False

    def destinations(self) -> list[str]:
        return _CONNECTED.findall(self.log_path.read_text(errors="replace")) if self.log_path.exists() else []

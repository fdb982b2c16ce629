"""A tiny DNS server for the private Tor network: `*.test` and `localhost` are 127.0.0.1, any other name NXDOMAIN.

The exit relay of the test network ignores /etc/hosts and asks the nameserver in its ServerDNSResolvConfFile, so this
stub is what lets a client reach `probe.test`, `trongrid.test` (devnet) or any other `*.test` name through Tor, while
no name can resolve to an address off the machine. It answers over UDP only (tor's resolver needs no TCP for answers
this short) and records every question, so a test can prove that the exit, not the test process, resolved a name.

Usage:
    with DnsStub() as dns:          # a free port on 127.0.0.1
        dns.port, dns.queries

or `python -m lucid_tron.testing.dns_stub --port 5353` for manual runs.
"""

from __future__ import annotations

import argparse
import socket
import struct
import threading
from dataclasses import dataclass
from typing import Self

__all__ = ["DnsQuestion", "DnsStub", "answer", "resolves_locally"]

LOOPBACK = "127.0.0.1"
TYPE_A = 1
CLASS_IN = 1
TTL_SECONDS = 60

_HEADER = struct.Struct("!HHHHHH")
_FLAG_QR = 0x8000
_FLAG_OPCODE = 0x7800
_FLAG_AA = 0x0400
_FLAG_RD = 0x0100
_RCODE_NOERROR = 0
_RCODE_FORMERR = 1
_RCODE_NXDOMAIN = 3
_RCODE_NOTIMP = 4


@dataclass(frozen=True)
class DnsQuestion:
    """One question as the stub received it. `name` is lower-cased (tor randomises the case of the letters it sends)."""

    name: str
    qtype: int


def resolves_locally(name: str) -> bool:
    """True when the stub answers `name` with 127.0.0.1: `localhost` and any name under `.test`."""
    name = name.lower().rstrip(".")
    return name == "localhost" or name.endswith(".test")


def _parse_question(message: bytes) -> tuple[str, int, int, int]:
    """The first question's name (as sent), type, class and the offset just past it; ValueError when malformed."""
    offset = _HEADER.size
    labels: list[bytes] = []
    while True:
        if offset >= len(message):
            raise ValueError("question name runs past the message")
        length = message[offset]
        offset += 1
        if length == 0:
            break
        if length & 0xC0:
            # Compression pointers never appear in a question a resolver sends first.
            raise ValueError("compressed question name")
        labels.append(message[offset : offset + length])
        offset += length
    if offset + 4 > len(message):
        raise ValueError("question type and class missing")
    qtype, qclass = struct.unpack_from("!HH", message, offset)
    return b".".join(labels).decode("ascii", "replace"), qtype, qclass, offset + 4


def answer(query: bytes) -> tuple[bytes | None, DnsQuestion | None]:
    """The response to one DNS query in wire format, and the question it asked (None when the query is unreadable).

    A for a local name -> 127.0.0.1; any other type for a local name -> NOERROR with no answer (the name exists);
    anything else -> NXDOMAIN. Returns (None, None) for messages too short to carry an id.
    """
    if len(query) < _HEADER.size:
        return None, None
    query_id, flags, qdcount, _, _, _ = _HEADER.unpack_from(query)
    if flags & _FLAG_QR:
        return None, None  # a response, not a query: never answer it (avoids loops)
    reply_flags = _FLAG_QR | _FLAG_AA | (flags & (_FLAG_OPCODE | _FLAG_RD))
    if flags & _FLAG_OPCODE:
        return _HEADER.pack(query_id, reply_flags | _RCODE_NOTIMP, 0, 0, 0, 0), None
    try:
        if qdcount != 1:
            raise ValueError("expected exactly one question")
        name, qtype, qclass, end = _parse_question(query)
    except ValueError:
        return _HEADER.pack(query_id, reply_flags | _RCODE_FORMERR, 0, 0, 0, 0), None
    question = DnsQuestion(name=name.lower(), qtype=qtype)
    # The question goes back byte for byte: tor checks that the 0x20 case mix it sent comes back unchanged.
    question_bytes = query[_HEADER.size : end]
    if not resolves_locally(name):
        return _HEADER.pack(query_id, reply_flags | _RCODE_NXDOMAIN, 1, 0, 0, 0) + question_bytes, question
    if qtype != TYPE_A or qclass != CLASS_IN:
        return _HEADER.pack(query_id, reply_flags | _RCODE_NOERROR, 1, 0, 0, 0) + question_bytes, question
    record = struct.pack("!HHHIH", 0xC000 | _HEADER.size, TYPE_A, CLASS_IN, TTL_SECONDS, 4) + socket.inet_aton(LOOPBACK)
    return _HEADER.pack(query_id, reply_flags | _RCODE_NOERROR, 1, 1, 0, 0) + question_bytes + record, question


class DnsStub:
    """The stub on a UDP port of 127.0.0.1, served by a daemon thread: it answers even while a test blocks its loop."""

    def __init__(self, host: str = LOOPBACK, port: int = 0) -> None:
        self.host = host
        self._requested_port = port
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._queries: list[DnsQuestion] = []

    @property
    def port(self) -> int:
        """The UDP port it listens on (known once started)."""
        if self._socket is None:
            raise RuntimeError("DnsStub is not running")
        return self._socket.getsockname()[1]

    @property
    def queries(self) -> list[DnsQuestion]:
        """Every question answered so far, oldest first (a copy)."""
        with self._lock:
            return list(self._queries)

    def start(self) -> Self:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((self.host, self._requested_port))
        self._socket = sock
        self._thread = threading.Thread(target=self._serve, args=(sock,), name=f"dns-stub:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        sock, self._socket = self._socket, None
        if sock is None:
            return
        # shutdown() wakes the blocked recvfrom on Linux; close() alone would leave the thread waiting.
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _serve(self, sock: socket.socket) -> None:
        while True:
            try:
                query, client = sock.recvfrom(4096)
            except OSError:
                return
            if not query and self._socket is not sock:
                return
            response, question = answer(query)
            if question is not None:
                with self._lock:
                    self._queries.append(question)
            if response is not None:
                try:
                    sock.sendto(response, client)
                except OSError:
                    return

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, default=5353)
    args = parser.parse_args(argv)
    with DnsStub(args.host, args.port) as dns:
        print(f"answering *.test and localhost on {dns.host}:{dns.port}/udp; Ctrl-C stops", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()

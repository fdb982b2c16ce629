"""Where a process sent packets: strace's connect/sendto/sendmsg/sendmmsg lines, parsed, and the assertion behind the
fail-closed proof ("this process contacted nothing but the SOCKS port, MongoDB and Redis").

    command = strace_command([sys.executable, "-m", "lucid_tron.services.tron_client"], trace_path)
    ...run it, exercise it, stop it...
    contacts = parse_strace(trace_path.read_text())
    assert_contacted_only(contacts, allowed={("127.0.0.1", socks_port), ("127.0.0.1", mongo_port)})
    assert dns_contacts(contacts) == []

Reusable by any test (the service-level proof too): it imports nothing of the project. Tests import it as
`connect_trace` (pytest puts this folder on sys.path for the tests in it) or as `integration.tor_proxy.connect_trace`.

What counts as a contact: every connect() (TCP, and UDP, which is how glibc's resolver talks to a nameserver) and every
sendto/sendmsg/sendmmsg that names a destination address. Sends on connected sockets name none; their connect() is
already in the trace. AF_UNIX and AF_NETLINK stay on the machine, but a connect to an AF_UNIX socket can still be a name
lookup (nscd, systemd-resolved's varlink), so they are reported too and must be allowed explicitly.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "STRACE_SYSCALLS",
    "SocketContact",
    "assert_contacted_only",
    "dns_contacts",
    "parse_strace",
    "strace_available",
    "strace_command",
]

STRACE_SYSCALLS = "connect,sendto,sendmsg,sendmmsg"
DNS_PORTS = frozenset({53, 853, 5353})

_CALL = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+(?:(\d+\.\d+)\s+)?(connect|sendto|sendmsg|sendmmsg)\((.*)$")
_FAMILY = re.compile(r"sa_family=(AF_[A-Z0-9]+)")
_INET = re.compile(r'sin_port=htons\((\d+)\),\s*sin_addr=inet_addr\("([^"]*)"\)')
_INET6 = re.compile(r'sin6_port=htons\((\d+)\).*?inet_pton\(AF_INET6,\s*"([^"]*)"')
_UNIX = re.compile(r'sun_path=(@?"(?:[^"\\]|\\.)*"|@?[^,}\s]+)')
_RESULT = re.compile(r"\)\s*=\s*(-?\d+(?:\s+\w+)?)")


@dataclass(frozen=True)
class SocketContact:
    """One destination a traced process addressed."""

    pid: int
    syscall: str
    #: AF_INET, AF_INET6, AF_UNIX, AF_NETLINK, ...
    family: str
    #: IP address, or the AF_UNIX path (abstract names start with @); None for other families.
    address: str | None
    port: int | None
    #: "0", "-1 ECONNREFUSED", "-1 EINPROGRESS" (a non-blocking connect: its outcome is not in the trace), "" when
    #: strace did not show it.
    result: str
    line: str
    #: Wall-clock time of the call (time.time()), when traced with -ttt as strace_command does.
    at: float | None = None

    @property
    def endpoint(self) -> tuple[str | None, int | None]:
        """(address, port), an IPv4-mapped IPv6 address as the IPv4 address it is: gRPC's C core connects to an IPv4
        peer through a dual-stack AF_INET6 socket to ::ffff:a.b.c.d."""
        if self.family == "AF_INET6" and self.address:
            mapped = ipaddress.ip_address(self.address).ipv4_mapped
            if mapped is not None:
                return (str(mapped), self.port)
        return (self.address, self.port)

    @property
    def is_network(self) -> bool:
        return self.family in ("AF_INET", "AF_INET6")


def strace_available() -> bool:
    return shutil.which("strace") is not None


def strace_command(argv: Sequence[str], trace_path: object) -> list[str]:
    """`argv` under strace: every thread and child (-f), with wall-clock times (-ttt), only the calls that address a
    destination, no signals."""
    return [
        "strace", "-f", "-ttt", "-qq", "-e", "signal=none", "-e", f"trace={STRACE_SYSCALLS}", "-o", str(trace_path),
        *argv,
    ]  # fmt: skip


def parse_strace(text: str) -> list[SocketContact]:
    """Every destination in strace's output (`-f -o FILE` format, "<unfinished ...>" lines included)."""
    contacts: list[SocketContact] = []
    for raw in text.splitlines():
        line = raw.strip()
        match = _CALL.match(line)
        if match is None:
            continue
        pid, syscall, rest = int(match.group(1)), match.group(3), match.group(4)
        at = float(match.group(2)) if match.group(2) else None
        result_match = _RESULT.search(rest)
        result = result_match.group(1) if result_match else ""
        # One sockaddr for connect/sendto; sendmsg/sendmmsg may carry several (one per message).
        for family_match in _FAMILY.finditer(rest):
            family = family_match.group(1)
            tail = rest[family_match.start():]
            address: str | None = None
            port: int | None = None
            if family == "AF_INET" and (inet := _INET.search(tail)):
                port, address = int(inet.group(1)), inet.group(2)
            elif family == "AF_INET6" and (inet6 := _INET6.search(tail)):
                port, address = int(inet6.group(1)), inet6.group(2)
            elif family == "AF_UNIX" and (unix := _UNIX.search(tail)):
                address = unix.group(1).replace('"', "")
            contacts.append(SocketContact(pid, syscall, family, address, port, result, line, at))
    return contacts


def dns_contacts(contacts: Iterable[SocketContact], extra_ports: Iterable[int] = ()) -> list[SocketContact]:
    """Contacts that can only be name lookups: a DNS port (53, 853, 5353, `extra_ports`) on any address, or the
    AF_UNIX sockets of nscd and systemd-resolved."""
    ports = DNS_PORTS | set(extra_ports)
    return [
        contact
        for contact in contacts
        if (contact.is_network and contact.port in ports)
        or (contact.family == "AF_UNIX" and any(name in (contact.address or "") for name in ("nscd", "resolve")))
    ]


def assert_contacted_only(
    contacts: Iterable[SocketContact],
    allowed: Iterable[tuple[str, int]],
    *,
    allowed_unix: Iterable[str] = (),
) -> None:
    """Fail, listing the offending strace lines, if any contact is not in `allowed` ((address, port) pairs; AF_UNIX
    paths in `allowed_unix`). AF_NETLINK (the kernel, e.g. getifaddrs) is always allowed: it leaves nothing."""
    allowed_set = {(address, port) for address, port in allowed}
    unix_set = set(allowed_unix)
    offending = [
        contact
        for contact in contacts
        if not (
            (contact.is_network and contact.endpoint in allowed_set)
            or (contact.family == "AF_UNIX" and contact.address in unix_set)
            or contact.family == "AF_NETLINK"
        )
    ]
    if offending:
        shown = "\n".join(f"  {contact.line}" for contact in offending[:20])
        more = f"\n  ... and {len(offending) - 20} more" if len(offending) > 20 else ""
        raise AssertionError(
            f"{len(offending)} contact(s) outside {sorted(allowed_set)} {sorted(unix_set)}:\n{shown}{more}"
        )

"""The exit's DNS stub: `*.test` and `localhost` are 127.0.0.1, every other name is NXDOMAIN (real UDP on loopback)."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest

from lucid_tron.testing.dns_stub import TYPE_A, DnsQuestion, DnsStub

TYPE_AAAA = 28
NOERROR, NXDOMAIN = 0, 3


def query(name: str, qtype: int = TYPE_A, query_id: int = 0x4C54) -> bytes:
    labels = b"".join(bytes([len(label)]) + label.encode() for label in name.split("."))
    return struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + labels + b"\x00" + struct.pack("!HH", qtype, 1)


@pytest.fixture
def dns() -> Iterator[DnsStub]:
    with DnsStub() as stub:
        yield stub


def ask(dns: DnsStub, message: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(message, ("127.0.0.1", dns.port))
        return sock.recv(512)


def rcode(response: bytes) -> int:
    return struct.unpack_from("!H", response, 2)[0] & 0x000F


def answer_count(response: bytes) -> int:
    return struct.unpack_from("!H", response, 6)[0]


@pytest.mark.parametrize("name", ["trongrid.test", "a.b.probe.test", "localhost"])
def test_local_names_resolve_to_loopback(dns: DnsStub, name: str) -> None:
    response = ask(dns, query(name))

    assert (rcode(response), answer_count(response)) == (NOERROR, 1)
    assert response.endswith(socket.inet_aton("127.0.0.1"))


@pytest.mark.parametrize("name", ["api.trongrid.io", "example.com", "test", "test.example"])
def test_other_names_do_not_exist(dns: DnsStub, name: str) -> None:
    response = ask(dns, query(name))

    assert (rcode(response), answer_count(response)) == (NXDOMAIN, 0)


def test_the_answer_echoes_the_id_and_the_question_with_its_letter_case(dns: DnsStub) -> None:
    # tor mixes the case of the letters it sends (0x20 encoding) and drops answers whose question differs.
    sent = query("TronGrid.TeSt", query_id=0xBEEF)

    response = ask(dns, sent)

    assert response[:2] == b"\xbe\xef"
    assert response[12 : len(sent)] == sent[12:]


def test_a_local_name_has_no_ipv6_address_but_exists(dns: DnsStub) -> None:
    response = ask(dns, query("trongrid.test", TYPE_AAAA))

    assert (rcode(response), answer_count(response)) == (NOERROR, 0)


def test_it_records_each_question_lower_cased(dns: DnsStub) -> None:
    ask(dns, query("Probe.TEST"))
    ask(dns, query("example.com", TYPE_AAAA))

    assert dns.queries == [DnsQuestion("probe.test", TYPE_A), DnsQuestion("example.com", TYPE_AAAA)]

"""The strace reader of the no-egress tests: a connect through a dual-stack socket to an IPv4-mapped address is the
IPv4 destination it names, so an allowed IPv4 peer reached that way (as gRPC's C core does) is not an escape."""

from __future__ import annotations

import pytest

from integration.tor_proxy.connect_trace import assert_contacted_only, parse_strace

MAPPED = ('6173  1796627999.055885 connect(24, {sa_family=AF_INET6, sin6_port=htons(37497), sin6_flowinfo=htonl(0), '
          'inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6_addr), sin6_scope_id=0}, 28) = -1 EINPROGRESS '
          '(Operation now in progress)\n')
OTHER = MAPPED.replace("::ffff:127.0.0.1", "::ffff:203.0.113.7")


def test_an_ipv4_mapped_address_is_the_ipv4_destination_it_names() -> None:
    [contact] = parse_strace(MAPPED)

    assert contact.endpoint == ("127.0.0.1", 37497)
    assert_contacted_only([contact], allowed=[("127.0.0.1", 37497)])


def test_an_ipv4_mapped_address_outside_the_allowed_ones_is_still_refused() -> None:
    [contact] = parse_strace(OTHER)

    assert contact.endpoint == ("203.0.113.7", 37497)
    with pytest.raises(AssertionError, match="203.0.113.7"):
        assert_contacted_only([contact], allowed=[("127.0.0.1", 37497)])

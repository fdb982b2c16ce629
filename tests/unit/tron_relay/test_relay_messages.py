"""The relay's CacheStatus on the wire: where the answer came from, and its age as a normal google.protobuf.Duration."""

from __future__ import annotations

import pytest
from google.protobuf.duration_pb2 import Duration

from lucid.tron.v1 import relay_pb2
from lucid_tron.services.tron_relay.cache import CacheStatus
from lucid_tron.services.tron_relay.messages import set_cache_status


@pytest.mark.parametrize("age_s", [0.0, 0.000_000_001, 0.25, 1.5, 2.999_999_999, 600.0, 604_800.123])
def test_the_age_is_the_duration_that_from_nanoseconds_gives(age_s: float) -> None:
    message = relay_pb2.CacheStatus()
    set_cache_status(message, CacheStatus(from_cache=True, stale=False, age_s=age_s))

    expected = Duration()
    expected.FromNanoseconds(round(age_s * 1e9))
    assert (message.age.seconds, message.age.nanos) == (expected.seconds, expected.nanos)


def test_a_stale_answer_from_the_cache_says_so() -> None:
    message = relay_pb2.CacheStatus()
    set_cache_status(message, CacheStatus(from_cache=True, stale=True, age_s=12.5))

    assert (message.from_cache, message.stale, message.age.ToMilliseconds()) == (True, True, 12_500)


def test_a_fetched_answer_is_not_from_the_cache_and_has_age_zero() -> None:
    message = relay_pb2.CacheStatus()
    set_cache_status(message, CacheStatus(from_cache=False, stale=False, age_s=0.0))

    assert message == relay_pb2.CacheStatus(from_cache=False, stale=False, age=Duration())
    assert message.HasField("age")

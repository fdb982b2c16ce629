"""The relay's cache policy: how long each kind of answer is fresh, and how long it is kept for stale serving."""

from __future__ import annotations

import pytest

from lucid_tron.services.tron_relay.cache import CachePolicy, Kind

POLICY = CachePolicy()


@pytest.mark.parametrize(
    ("kind", "ttl_s"),
    [
        (Kind.HEAD_BLOCK, 1.0),
        (Kind.SOLIDIFIED_BLOCK, 3.0),
        (Kind.HEAD_ACCOUNT, 3.0),
        (Kind.SOLIDIFIED_ACCOUNT, 3.0),
        (Kind.RESOURCES, 3.0),
        (Kind.HEAD_RECEIPT, 3.0),
        (Kind.SOLIDIFIED_RECEIPT, 7 * 24 * 3600.0),
    ],
)
def test_each_kind_has_its_default_ttl(kind, ttl_s):
    assert POLICY.ttl_s(kind, found=True) == ttl_s


@pytest.mark.parametrize("kind", list(Kind))
def test_not_found_is_fresh_only_briefly_whatever_the_kind(kind):
    assert POLICY.ttl_s(kind, found=False) == 1.0
    assert not POLICY.is_fresh(kind, False, age_s=1.5, max_age_s=None)


def test_an_answer_is_fresh_up_to_its_ttl():
    assert POLICY.is_fresh(Kind.HEAD_BLOCK, True, age_s=1.0, max_age_s=None)
    assert not POLICY.is_fresh(Kind.HEAD_BLOCK, True, age_s=1.01, max_age_s=None)


def test_the_callers_max_age_replaces_the_ttl_both_ways():
    assert POLICY.is_fresh(Kind.HEAD_ACCOUNT, True, age_s=30.0, max_age_s=60.0)
    assert not POLICY.is_fresh(Kind.HEAD_ACCOUNT, True, age_s=0.2, max_age_s=0.1)


def test_a_found_solidified_receipt_is_final_whatever_the_max_age():
    assert POLICY.is_fresh(Kind.SOLIDIFIED_RECEIPT, True, age_s=86_400.0, max_age_s=0.001)


def test_a_solidified_receipt_not_found_yet_is_not_final():
    assert not POLICY.is_final(Kind.SOLIDIFIED_RECEIPT, False)
    assert not POLICY.is_fresh(Kind.SOLIDIFIED_RECEIPT, False, age_s=2.0, max_age_s=None)


def test_entries_are_kept_past_their_ttl_for_stale_serving():
    assert POLICY.keep_s(Kind.HEAD_BLOCK, True) == 1.0 + 600.0
    assert POLICY.keep_s(Kind.HEAD_RECEIPT, False) == 1.0 + 600.0


def test_a_final_entry_is_kept_exactly_its_ttl():
    assert POLICY.keep_s(Kind.SOLIDIFIED_RECEIPT, True) == 7 * 24 * 3600.0


@pytest.mark.parametrize("field", ["head_block_s", "not_found_s", "refresh_wait_s"])
def test_a_policy_needs_positive_durations(field):
    with pytest.raises(ValueError, match=field):
        CachePolicy(**{field: 0})

"""CircuitBreaker on its own, and RetryPolicy's backoff: state changes the client tests do not reach."""

from __future__ import annotations

import random
import time

import pytest

from lucid_tron.trongrid import BreakerPolicy, BreakerState, CircuitBreaker, RetryPolicy, TronGridUnavailable


def test_a_high_failure_rate_opens_the_breaker_without_consecutive_failures():
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=10, window=4, min_calls=4, failure_rate=0.5))

    for failed in (False, True, False, True):
        probe = breaker.acquire()
        breaker.record_failure(probe) if failed else breaker.record_success(probe)

    assert breaker.state is BreakerState.OPEN


def test_a_low_failure_rate_keeps_the_breaker_closed():
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=10, window=4, min_calls=4, failure_rate=0.5))

    for failed in (True, False, False, False, True, False, False, False):
        probe = breaker.acquire()
        breaker.record_failure(probe) if failed else breaker.record_success(probe)

    assert breaker.state is BreakerState.CLOSED


def test_a_success_resets_the_count_of_consecutive_failures():
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=3, window=20, min_calls=20))

    for failed in (True, True, False, True, True):
        probe = breaker.acquire()
        breaker.record_failure(probe) if failed else breaker.record_success(probe)

    assert breaker.state is BreakerState.CLOSED


def test_an_open_breaker_reports_half_open_once_its_time_is_up():
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=1, open_s=0.1))
    breaker.record_failure(breaker.acquire())
    assert breaker.state is BreakerState.OPEN

    time.sleep(0.12)

    assert breaker.state is BreakerState.HALF_OPEN


def test_a_probe_released_without_a_verdict_lets_the_next_call_probe():
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=1, open_s=0.05))
    breaker.record_failure(breaker.acquire())
    time.sleep(0.06)

    first = breaker.acquire()
    with pytest.raises(TronGridUnavailable, match="circuit breaker open"):
        breaker.acquire()
    breaker.release(first)  # e.g. throttled, or cancelled

    assert breaker.acquire() is True


def test_outcomes_of_calls_started_before_the_breaker_opened_do_not_close_it():
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=1, open_s=30))
    early = breaker.acquire()
    breaker.record_failure(breaker.acquire())

    breaker.record_success(early)

    assert breaker.state is BreakerState.OPEN


@pytest.mark.parametrize(
    "options",
    [{"consecutive_failures": 0}, {"window": 5, "min_calls": 6}, {"failure_rate": 0}, {"open_s": 0}],
)
def test_a_nonsensical_breaker_policy_is_refused(options):
    with pytest.raises(ValueError):
        BreakerPolicy(**options)


def test_backoff_is_full_jitter_under_an_exponential_cap():
    policy = RetryPolicy(base_delay_s=0.1, max_delay_s=0.5)
    rng = random.Random(7)

    for retry, cap in ((1, 0.1), (2, 0.2), (3, 0.4), (4, 0.5), (10, 0.5)):
        delays = [policy.backoff_s(retry, rng) for _ in range(200)]
        assert all(0.0 <= d <= cap for d in delays)
        assert max(delays) > cap * 0.8  # spread over the whole range, not a fixed delay

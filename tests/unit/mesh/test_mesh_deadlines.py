"""Code below a servicer asks `deadlines` how long it may wait, without knowing about grpc."""

from __future__ import annotations

import asyncio

import pytest

from lucid_tron.errors import DeadlineExceeded
from lucid_tron.context import deadlines


def test_without_a_deadline_nothing_is_left_to_compute() -> None:
    assert deadlines.remaining() is None
    assert deadlines.timeout(30.0) == 30.0


def test_a_timeout_is_shortened_to_the_time_left_minus_the_margin() -> None:
    with deadlines.within(2.0):
        assert 1.9 < deadlines.timeout(30.0) <= 2.0 - deadlines.MARGIN_S
        assert deadlines.timeout(0.5) == 0.5


def test_an_expired_deadline_raises_deadline_exceeded() -> None:
    with deadlines.within(0.0), pytest.raises(DeadlineExceeded):
        deadlines.timeout(30.0)


def test_less_time_than_the_margin_counts_as_expired() -> None:
    with deadlines.within(deadlines.MARGIN_S / 2), pytest.raises(DeadlineExceeded):
        deadlines.timeout(30.0)


def test_an_inner_block_cannot_extend_its_callers_deadline() -> None:
    with deadlines.within(1.0), deadlines.within(60.0):
        left = deadlines.remaining()
        assert left is not None and left <= 1.0


def test_the_deadline_ends_with_its_block() -> None:
    with deadlines.within(1.0):
        pass
    assert deadlines.remaining() is None


async def test_each_task_sees_its_own_deadline() -> None:
    async def observe(seconds: float) -> float | None:
        with deadlines.within(seconds):
            await asyncio.sleep(0)
            return deadlines.remaining()

    short, long = await asyncio.gather(observe(1.0), observe(10.0))
    assert short is not None and long is not None and short < 1.0 < long

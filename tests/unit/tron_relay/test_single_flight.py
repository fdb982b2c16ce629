"""Single-flight: concurrent identical reads share one task; the task outlives callers that stop waiting."""

from __future__ import annotations

import asyncio

import pytest

from lucid_tron.context import deadlines
from lucid_tron.services.tron_relay.coalesce import SingleFlight


async def test_concurrent_callers_of_one_key_share_one_run():
    flights: SingleFlight[str, int] = SingleFlight()
    release = asyncio.Event()
    runs = 0

    async def work() -> int:
        nonlocal runs
        runs += 1
        await release.wait()
        return 42

    tasks = [flights.start("k", work) for _ in range(10)]
    release.set()

    assert await asyncio.gather(*tasks) == [42] * 10
    assert (runs, flights.started, flights.joined) == (1, 1, 9)


async def test_different_keys_run_separately():
    flights: SingleFlight[str, str] = SingleFlight()

    async def work(value: str) -> str:
        return value

    both = await asyncio.gather(flights.start("a", lambda: work("a")), flights.start("b", lambda: work("b")))
    assert both == ["a", "b"]


async def test_a_key_runs_again_once_its_flight_landed():
    flights: SingleFlight[str, int] = SingleFlight()
    runs = 0

    async def work() -> int:
        nonlocal runs
        runs += 1
        return runs

    assert await flights.start("k", work) == 1
    assert await flights.start("k", work) == 2
    assert len(flights) == 0


async def test_every_waiting_caller_gets_the_error_of_a_failed_flight():
    flights: SingleFlight[str, int] = SingleFlight()

    async def work() -> int:
        await asyncio.sleep(0)
        raise RuntimeError("TronGrid fell over")

    tasks = [flights.start("k", work) for _ in range(3)]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(result, RuntimeError) for result in results)


async def test_a_caller_that_stops_waiting_leaves_the_flight_running_for_others():
    flights: SingleFlight[str, int] = SingleFlight()
    release = asyncio.Event()

    async def work() -> int:
        await release.wait()
        return 7

    impatient = flights.start("k", work)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(impatient), 0.01)
    patient = flights.start("k", work)
    release.set()

    assert await patient == 7 and flights.started == 1


async def test_the_flight_does_not_inherit_the_first_callers_deadline():
    flights: SingleFlight[str, float | None] = SingleFlight()

    async def work() -> float | None:
        return deadlines.remaining()

    with deadlines.within(0.5):
        assert await flights.start("k", work) is None


async def test_close_cancels_running_flights():
    flights: SingleFlight[str, None] = SingleFlight()
    task = flights.start("k", lambda: asyncio.sleep(60))
    await asyncio.sleep(0)

    await flights.close()

    assert task.cancelled() and len(flights) == 0

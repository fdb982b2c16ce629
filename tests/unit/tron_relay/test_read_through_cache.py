"""The relay's read path: fresh hits, coalesced refreshes, stale answers while TronGrid fails, UNAVAILABLE with
nothing cached.

The store is an in-memory dict implementing the cache's store interface (a stand-in for Redis, and the test says
so): these tests are about the read logic and its timing, under a clock they control. The same path runs over a
real redis-server in tests/integration/tron_relay.
"""

from __future__ import annotations

import asyncio

import pytest

from lucid_tron.errors import Unavailable
from lucid_tron.context import deadlines
from lucid_tron.services.tron_relay.cache import CachePolicy, Kind, ReadThroughCache
from lucid_tron.trongrid import TronGridThrottled, TronGridUnavailable
from lucid_tron.trongrid import Account

ADDRESS = "TQyGrUpBRF7m2ScEwuyK9VadWZBfYDmG6f"


def account(balance: int) -> Account:
    return Account(address=ADDRESS, activated=True, balance_sun=balance, create_time_ms=1)


class MemoryStore:
    """A dict in place of Redis; `down` makes it behave as the relay's store does when Redis is down (misses)."""

    def __init__(self) -> None:
        self.entries: dict[str, bytes] = {}
        self.ttls: dict[str, float] = {}
        self.down = False

    async def get(self, key: str) -> bytes | None:
        return None if self.down else self.entries.get(key)

    async def put(self, key: str, value: bytes, ttl_s: float) -> bool:
        if not self.down:
            self.entries[key] = value
            self.ttls[key] = ttl_s
        return not self.down


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class TronGrid:
    """Scripted fetches: each call returns the next value or raises the next error; `gate` holds them."""

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def fetch(self) -> Account:
        self.calls += 1
        await self.gate.wait()
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome  # type: ignore[return-value]


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def cache_of(store: MemoryStore, clock: Clock, **policy: float) -> ReadThroughCache:
    return ReadThroughCache(store, CachePolicy(**policy), namespace="http://devnet", clock=clock)


async def read(cache: ReadThroughCache, tron: TronGrid, max_age_s: float | None = None):
    return await cache.read(Kind.HEAD_ACCOUNT, ADDRESS, Account, tron.fetch, max_age_s=max_age_s)


async def test_a_miss_is_fetched_and_stored_with_its_kind_ttl_plus_the_stale_window(store, clock):
    cache, tron = cache_of(store, clock), TronGrid(account(1))

    answer = await read(cache, tron)

    assert answer.value == account(1)
    assert (answer.status.from_cache, answer.status.stale, answer.status.age_s) == (False, False, 0.0)
    assert list(store.ttls.values()) == [3.0 + 600.0]


async def test_a_fresh_entry_is_served_from_the_cache_with_its_age(store, clock):
    cache, tron = cache_of(store, clock), TronGrid(account(1))
    await read(cache, tron)
    clock.now += 2.5

    answer = await read(cache, tron)

    assert (answer.status.from_cache, answer.status.stale, answer.status.age_s) == (True, False, 2.5)
    assert tron.calls == 1


async def test_an_entry_past_its_ttl_is_fetched_again(store, clock):
    cache, tron = cache_of(store, clock), TronGrid(account(1), account(2))
    await read(cache, tron)
    clock.now += 3.5

    answer = await read(cache, tron)

    assert answer.value == account(2) and not answer.status.from_cache and tron.calls == 2


async def test_the_callers_max_age_decides_freshness(store, clock):
    cache, tron = cache_of(store, clock), TronGrid(account(1), account(2))
    await read(cache, tron)
    clock.now += 0.5

    assert (await read(cache, tron, max_age_s=0.1)).value == account(2)
    clock.now += 30
    assert (await read(cache, tron, max_age_s=60)).status.from_cache


async def test_not_found_is_cached_as_briefly_as_the_policy_says(store, clock):
    cache = cache_of(store, clock, not_found_s=1.0)
    calls = 0

    async def nothing() -> None:
        nonlocal calls
        calls += 1

    async def lookup():
        return await cache.read(Kind.HEAD_RECEIPT, "ab" * 32, type(None), nothing)

    assert (await lookup()).value is None
    clock.now += 0.5
    assert (await lookup()).status.from_cache
    clock.now += 1.0
    assert not (await lookup()).status.from_cache and calls == 2


async def test_concurrent_misses_make_one_fetch(store, clock):
    cache, tron = cache_of(store, clock), TronGrid(account(1))
    tron.gate.clear()
    readers = [asyncio.create_task(read(cache, tron)) for _ in range(20)]
    await asyncio.sleep(0.01)
    tron.gate.set()

    answers = await asyncio.gather(*readers)

    assert tron.calls == 1 and all(a.value == account(1) for a in answers)


async def test_when_trongrid_fails_the_last_value_is_served_stale_with_its_age(store, clock):
    cache, tron = cache_of(store, clock), TronGrid(account(1), TronGridUnavailable("HTTP 503"))
    await read(cache, tron)
    clock.now += 42

    answer = await read(cache, tron)

    assert answer.value == account(1)
    assert (answer.status.from_cache, answer.status.stale, answer.status.age_s) == (True, True, 42.0)


async def test_when_trongrid_throttles_the_last_value_is_served_stale(store, clock):
    cache, tron = cache_of(store, clock), TronGrid(account(1), TronGridThrottled("429", retry_after_s=60))
    await read(cache, tron)
    clock.now += 5

    assert (await read(cache, tron)).status.stale


async def test_with_nothing_cached_a_failure_is_unavailable(store, clock):
    cache, tron = cache_of(store, clock), TronGrid(TronGridUnavailable("HTTP 503"))
    with pytest.raises(Unavailable):
        await read(cache, tron)


async def test_a_slow_refresh_serves_stale_after_the_refresh_wait_and_lands_in_the_background(store, clock):
    cache, tron = cache_of(store, clock, refresh_wait_s=0.05), TronGrid(account(1), account(2))
    await read(cache, tron)
    clock.now += 10
    tron.gate.clear()

    answer = await read(cache, tron)
    assert answer.value == account(1) and answer.status.stale

    tron.gate.set()
    await asyncio.sleep(0.01)  # the refresh lands
    clock.now += 0.5
    fresh = await read(cache, tron)
    assert fresh.value == account(2) and fresh.status.from_cache and not fresh.status.stale
    assert tron.calls == 2


async def test_a_slow_refresh_serves_stale_before_the_callers_deadline(store, clock):
    cache, tron = cache_of(store, clock, refresh_wait_s=30), TronGrid(account(1))
    await read(cache, tron)
    clock.now += 10
    tron.gate.clear()

    loop = asyncio.get_running_loop()
    began = loop.time()
    with deadlines.within(0.2):
        answer = await read(cache, tron)

    assert answer.status.stale and loop.time() - began < 0.2
    tron.gate.set()


async def test_a_slow_fetch_with_nothing_cached_is_unavailable_before_the_callers_deadline(store, clock):
    cache, tron = cache_of(store, clock), TronGrid(account(1))
    tron.gate.clear()

    loop = asyncio.get_running_loop()
    began = loop.time()
    with deadlines.within(0.2), pytest.raises(Unavailable) as raised:
        await read(cache, tron)

    assert raised.value.reason == "TRONGRID_TIMEOUT" and loop.time() - began < 0.2
    tron.gate.set()


async def test_with_the_store_down_reads_still_answer_uncached_and_coalesced(store, clock):
    store.down = True
    cache, tron = cache_of(store, clock), TronGrid(account(1))
    tron.gate.clear()
    readers = [asyncio.create_task(read(cache, tron)) for _ in range(5)]
    await asyncio.sleep(0.01)
    tron.gate.set()

    answers = await asyncio.gather(*readers)

    assert all(a.value == account(1) and not a.status.from_cache for a in answers) and tron.calls == 1


async def test_an_unreadable_entry_is_a_miss(store, clock):
    cache, tron = cache_of(store, clock), TronGrid(account(1))
    store.entries[cache.key(Kind.HEAD_ACCOUNT, ADDRESS)] = b'{"at": 1, "v": {"address": 5}}'

    answer = await read(cache, tron)

    assert not answer.status.from_cache and tron.calls == 1


async def test_networks_sharing_a_store_never_read_each_others_entries(store, clock):
    mainnet = ReadThroughCache(store, CachePolicy(), namespace="https://api.trongrid.io", clock=clock)
    devnet = ReadThroughCache(store, CachePolicy(), namespace="http://127.0.0.1:8090", clock=clock)
    assert mainnet.key(Kind.HEAD_BLOCK, "now") != devnet.key(Kind.HEAD_BLOCK, "now")


class Builds:
    """A message builder that counts its calls (what the servicer passes to `Cached.message`)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, value: Account) -> tuple[str, int]:
        self.calls += 1
        return ("message of", value.balance_sun)


async def test_answers_from_one_entry_share_the_message_built_from_it_once(store, clock):
    cache, tron, build = cache_of(store, clock), TronGrid(account(1)), Builds()
    fetched = await read(cache, tron)
    clock.now += 0.1
    hit = await read(cache, tron)

    assert fetched.message(build) is hit.message(build)
    assert build.calls == 1


async def test_a_shared_message_does_not_share_the_answers_age(store, clock):
    cache, tron, build = cache_of(store, clock), TronGrid(account(1)), Builds()
    await read(cache, tron)
    clock.now += 0.1
    first = await read(cache, tron)
    first.message(build)
    clock.now += 0.1

    second = await read(cache, tron)

    assert second.message(build) is first.message(build)
    assert (first.status.age_s, second.status.age_s) == (pytest.approx(0.1), pytest.approx(0.2))


async def test_a_refreshed_entry_gets_a_message_built_from_its_new_value(store, clock):
    cache, tron, build = cache_of(store, clock), TronGrid(account(1), account(2)), Builds()
    assert (await read(cache, tron)).message(build) == ("message of", 1)
    clock.now += 3.5

    assert (await read(cache, tron)).message(build) == ("message of", 2)
    assert build.calls == 2

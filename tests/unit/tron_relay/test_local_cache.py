"""The relay's in-process L1 in front of Redis: hot reads answered from memory for a short window, never fresher than
the entry's own fetched-at time allows, bounded (least recently used out first), one Redis GET for concurrent misses,
and replaced at once by this process's own refreshes.

The store is an in-memory dict implementing the cache's store interface (a stand-in for Redis, and the test says
so) that counts its GETs and can hold them; the clock is the tests'. Over a real redis-server the L1 is exercised
in tests/integration/tron_relay.
"""

from __future__ import annotations

import asyncio

import pytest

from lucid_tron.services.tron_relay.cache import CachePolicy, Kind, LocalEntries, ReadThroughCache, _Entry
from lucid_tron.trongrid import Account

ADDRESS = "TQyGrUpBRF7m2ScEwuyK9VadWZBfYDmG6f"
OTHER = "TCPrNU1gePQ5BnoGe8vg6yyDqNwmHExBEw"
THIRD = "TCbhosYdWbSkuAANRZaYutpSUNEVVVWKpL"


def account(balance: int, address: str = ADDRESS) -> Account:
    return Account(address=address, activated=True, balance_sun=balance, create_time_ms=1)


class CountingStore:
    """A dict in place of Redis that counts GETs; `gate` holds them, `down` makes every operation miss/fail."""

    def __init__(self) -> None:
        self.entries: dict[str, bytes] = {}
        self.gets = 0
        self.down = False
        self.gate = asyncio.Event()
        self.gate.set()

    async def get(self, key: str) -> bytes | None:
        self.gets += 1
        await self.gate.wait()
        return None if self.down else self.entries.get(key)

    async def put(self, key: str, value: bytes, ttl_s: float) -> bool:
        if not self.down:
            self.entries[key] = value
        return not self.down


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class TronGrid:
    """Each fetch returns the next value (the last one once they run out) and is counted."""

    def __init__(self, *values: Account) -> None:
        self.values = list(values)
        self.calls = 0

    async def fetch(self) -> Account:
        self.calls += 1
        return self.values.pop(0) if len(self.values) > 1 else self.values[0]


@pytest.fixture
def store() -> CountingStore:
    return CountingStore()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def cache_of(store: CountingStore, clock: Clock, **policy: float) -> ReadThroughCache:
    return ReadThroughCache(store, CachePolicy(**policy), namespace="http://devnet", clock=clock)


async def read(cache: ReadThroughCache, tron: TronGrid, address: str = ADDRESS, max_age_s: float | None = None):
    return await cache.read(Kind.HEAD_ACCOUNT, address, Account, tron.fetch, max_age_s=max_age_s)


async def test_a_read_again_within_the_window_is_answered_from_memory_with_its_true_age(store, clock):
    cache, tron = cache_of(store, clock), TronGrid(account(1))
    await read(cache, tron)  # fetched, stored in Redis and kept in the L1
    clock.now += 0.2

    answer = await read(cache, tron)

    assert answer.value == account(1)
    assert (answer.status.from_cache, answer.status.stale, answer.status.age_s) == (True, False, pytest.approx(0.2))
    assert store.gets == 1 and tron.calls == 1  # the first read's miss; the second did not ask Redis


async def test_an_entry_read_from_the_store_is_kept_in_memory_for_the_window_and_then_read_again(store, clock):
    cache, tron = cache_of(store, clock, local_s=0.25), TronGrid(account(1))
    await read(cache, tron)
    clock.now += 1.0  # past the window: the next read asks Redis, and keeps what it got
    await read(cache, tron)
    gets = store.gets

    clock.now += 0.25
    await read(cache, tron)
    assert store.gets == gets
    clock.now += 0.01
    await read(cache, tron)
    assert store.gets == gets + 1 and tron.calls == 1


async def test_an_entry_in_memory_is_still_judged_by_its_own_fetched_at_time(store, clock):
    # Redis holds an entry fetched 2.9 s ago (another instance's): fresh for 0.1 s more, whatever the window says.
    cache, tron = cache_of(store, clock, local_s=0.25), TronGrid(account(1), account(2))
    clock.now -= 2.9
    await read(cache, tron)
    clock.now += 2.9
    assert (await read(cache, tron)).status.from_cache  # loaded into the L1 now, 2.9 s old

    clock.now += 0.2  # within the L1 window, but 3.1 s after the fetch: past the 3 s TTL
    answer = await read(cache, tron)

    assert answer.value == account(2) and not answer.status.from_cache and tron.calls == 2


async def test_an_entry_in_memory_is_not_served_to_a_caller_whose_max_age_it_exceeds(store, clock):
    cache, tron = cache_of(store, clock), TronGrid(account(1), account(2))
    await read(cache, tron)
    clock.now += 0.1

    answer = await read(cache, tron, max_age_s=0.05)

    assert answer.value == account(2) and not answer.status.from_cache


async def test_the_window_is_never_longer_than_the_kinds_ttl():
    policy = CachePolicy(head_block_s=0.1, not_found_s=0.05, local_s=0.25)
    assert policy.local_keep_s(Kind.HEAD_BLOCK, True) == 0.1
    assert policy.local_keep_s(Kind.HEAD_RECEIPT, False) == 0.05
    assert policy.local_keep_s(Kind.SOLIDIFIED_RECEIPT, True) == 0.25


async def test_another_instances_refresh_is_seen_once_the_window_has_passed(store, clock):
    cache, tron = cache_of(store, clock, local_s=0.25), TronGrid(account(1))
    await read(cache, tron)
    other_instance = cache_of(store, clock)
    clock.now += 0.1
    await other_instance.read(Kind.HEAD_ACCOUNT, ADDRESS, Account, TronGrid(account(2)).fetch, max_age_s=0.01)

    within = await read(cache, tron)
    clock.now += 0.2
    after = await read(cache, tron)

    assert within.value == account(1) and within.status.age_s == pytest.approx(0.1)
    assert after.value == account(2) and after.status.from_cache and after.status.age_s == pytest.approx(0.2)


async def test_the_least_recently_used_entry_is_evicted_first(store, clock):
    cache = cache_of(store, clock, local_entries=2)
    trons = {address: TronGrid(account(1, address)) for address in (ADDRESS, OTHER, THIRD)}
    await read(cache, trons[ADDRESS], ADDRESS)
    await read(cache, trons[OTHER], OTHER)
    await read(cache, trons[ADDRESS], ADDRESS)  # ADDRESS is now the most recently used
    await read(cache, trons[THIRD], THIRD)  # evicts OTHER
    gets = store.gets

    await read(cache, trons[ADDRESS], ADDRESS)
    await read(cache, trons[THIRD], THIRD)
    assert store.gets == gets
    await read(cache, trons[OTHER], OTHER)
    assert store.gets == gets + 1 and len(cache.local) == 2


async def test_concurrent_reads_that_miss_the_memory_make_one_store_get(store, clock):
    cache, tron = cache_of(store, clock), TronGrid(account(1))
    await read(cache, tron)
    clock.now += 1.0  # out of the L1, still fresh in Redis
    gets = store.gets
    store.gate.clear()
    readers = [asyncio.create_task(read(cache, tron)) for _ in range(20)]
    await asyncio.sleep(0.01)
    store.gate.set()

    answers = await asyncio.gather(*readers)

    assert store.gets == gets + 1 and cache.loads.joined >= 19
    assert all(a.value == account(1) and a.status.from_cache for a in answers) and tron.calls == 1


async def test_a_refresh_replaces_the_entry_in_memory_at_once(store, clock):
    cache, tron = cache_of(store, clock), TronGrid(account(1), account(2))
    await read(cache, tron)
    clock.now += 0.1
    assert (await read(cache, tron, max_age_s=0.05)).value == account(2)  # refreshed
    gets = store.gets

    answer = await read(cache, tron)

    assert answer.value == account(2) and answer.status.from_cache and store.gets == gets


async def test_with_the_store_down_nothing_fetched_is_kept_in_memory(store, clock):
    store.down = True
    cache, tron = cache_of(store, clock), TronGrid(account(1), account(2))

    first, second = await read(cache, tron), await read(cache, tron)

    assert not first.status.from_cache and not second.status.from_cache and tron.calls == 2
    assert len(cache.local) == 0


async def test_a_local_window_of_zero_turns_the_memory_off(store, clock):
    cache, tron = cache_of(store, clock, local_s=0), TronGrid(account(1))
    await read(cache, tron)
    await read(cache, tron)
    await read(cache, tron)

    assert store.gets == 3 and len(cache.local) == 0 and tron.calls == 1


def test_an_older_entry_never_replaces_a_newer_one_in_memory():
    local = LocalEntries(max_entries=8)
    newer, older = _Entry(account(2), fetched_at=100.0), _Entry(account(1), fetched_at=99.0)
    local.put("k", newer, keep_s=0.25, now=100.1)
    local.put("k", older, keep_s=0.25, now=100.2)  # e.g. a Redis GET that started before the refresh landed

    assert local.get("k", now=100.3) is newer


def test_a_clock_that_steps_back_does_not_keep_an_entry_longer():
    local = LocalEntries(max_entries=8)
    local.put("k", _Entry(account(1), fetched_at=100.0), keep_s=0.25, now=100.0)

    assert local.get("k", now=99.0) is None and len(local) == 0


def test_the_policy_refuses_a_negative_window():
    with pytest.raises(ValueError, match="local_s must be >= 0"):
        CachePolicy(local_s=-1)

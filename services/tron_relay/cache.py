"""Read-through caching of chain reads: per-kind freshness, coalesced refreshes, stale answers when TronGrid fails.

One read (`ReadThroughCache.read`):

1. A cached answer no older than the caller's max_age (default: the kind's TTL) is returned as it is.
2. Otherwise the read is fetched from TronGrid, once for all concurrent callers (`SingleFlight`), and stored.
3. If that fetch fails (TronGrid down, throttled, breaker open) or is still running when the caller's wait is up,
   a cached answer of any age is returned marked stale, with its age; the fetch goes on in the background and
   refreshes the cache when it lands. With nothing cached the read fails UNAVAILABLE.

The wait in 3 is `refresh_wait_s`, or less when the caller's deadline is closer: a slow TronGrid costs a caller
with something cached at most that long. Entries are kept `stale_for_s` beyond their TTL, for step 3. A solidified
receipt is final: fresh until it expires (long), whatever max_age says. "Not found" is cached briefly, since
it may change with the next block.

"Cached" in 1 and 3 means Redis, which all relay instances share, with a small in-process copy in front of it (the
L1): an entry this process read from Redis or wrote there is kept decoded for `local_s` (250 ms; at most the entry's
own TTL), for at most `local_entries` keys, least recently used evicted first. A hot read (the head block, asked by
every service every few hundred ms) then costs one Redis GET per 250 ms instead of one per call, and concurrent
GETs of one key are one GET. An L1 entry is still judged by its own fetched-at time, exactly as the Redis entry it
copies: an answer from it is never fresher, nor reported younger, than the Redis entry was allowed to be. What the L1
adds is only this: for up to `local_s`, this process may not yet see a newer entry that another instance wrote to
Redis, and answers with the older one it holds, still within its TTL (and its caller's max_age). That is safe for
every kind:

- blocks, accounts, resources, head receipts and "not found": short-TTL reads that are already eventually
  consistent (an answer up to a TTL old is the contract, and instances refresh independently); 250 ms more of
  not seeing another instance's refresh is within that, and the entry's age in the answer stays true;
- solidified receipts: final; every copy is the same.

A refresh by this process replaces its L1 entry at once (never by an older one). With Redis down the L1 holds only
what was in Redis when it went (for at most `local_s`): what is fetched meanwhile cannot be stored, so it is not
kept in the L1 either, and reads stay uncached until Redis is back.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from lucid_tron.errors import DeadlineExceeded, Unavailable
from lucid_tron.context import deadlines

from .codec import CodecError, from_json, to_json
from .coalesce import SingleFlight

__all__ = ["CachePolicy", "CacheStatus", "CacheStore", "Cached", "Kind", "ReadThroughCache"]

_log = logging.getLogger("lucid_tron.services.tron_relay.cache")

T = TypeVar("T")
M = TypeVar("M")

#: Bump when the format of cached values changes: old entries are then simply never read.
FORMAT_VERSION = "v1"


class Kind(enum.Enum):
    """What is cached; each kind has its own TTL."""

    HEAD_BLOCK = "head-block"
    SOLIDIFIED_BLOCK = "solidified-block"
    HEAD_ACCOUNT = "head-account"
    SOLIDIFIED_ACCOUNT = "solidified-account"
    RESOURCES = "resources"
    HEAD_RECEIPT = "head-receipt"
    SOLIDIFIED_RECEIPT = "solidified-receipt"
    #: A block's TRX transfers and receipts, read from the head view (may still change) or the solidified one.
    HEAD_BLOCK_RECEIPTS = "head-block-receipts"
    SOLIDIFIED_BLOCK_RECEIPTS = "solidified-block-receipts"


@dataclass(frozen=True, kw_only=True)
class CachePolicy:
    """How long each kind of answer stays fresh, and how stale answers are served. Seconds."""

    #: About one block interval (3 s on TRON): a new head every block.
    head_block_s: float = 1.0
    solidified_block_s: float = 3.0
    account_s: float = 3.0
    resources_s: float = 3.0
    head_receipt_s: float = 3.0
    #: Final: only bounded so that Redis does not grow without end.
    solidified_receipt_s: float = 7 * 24 * 3600.0
    #: "No such receipt yet" changes with any block.
    not_found_s: float = 1.0
    #: How long past its TTL an answer is kept to be served stale while TronGrid cannot be reached.
    stale_for_s: float = 600.0
    #: Longest a caller with a cached answer waits for a refresh before getting the cached answer marked stale.
    refresh_wait_s: float = 2.0
    #: Bound of one shared fetch (it runs apart from any caller, so it has its own deadline).
    fetch_timeout_s: float = 15.0
    #: How long this process keeps an entry it read from or wrote to Redis (the L1), at most its TTL; 0: no L1.
    local_s: float = 0.25
    #: Most entries in the L1; the least recently used goes first.
    local_entries: int = 1024

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if name == "local_s":
                if not value >= 0:
                    raise ValueError(f"{name} must be >= 0, got {value}")
            elif not value > 0:
                raise ValueError(f"{name} must be > 0, got {value}")

    def ttl_s(self, kind: Kind, found: bool) -> float:
        """How long an answer of `kind` is fresh unless the caller says otherwise."""
        if not found:
            return self.not_found_s
        ttl_s: float = getattr(self, _TTL_FIELDS[kind])
        return ttl_s

    def is_final(self, kind: Kind, found: bool) -> bool:
        """A found solidified receipt, or solidified block, never changes."""
        return found and kind in _FINAL_KINDS

    def is_fresh(self, kind: Kind, found: bool, age_s: float, max_age_s: float | None) -> bool:
        """Whether a cached answer of this age may be returned as it is. `max_age_s` None or 0: the kind's TTL."""
        if self.is_final(kind, found):
            return True
        return age_s <= (max_age_s or self.ttl_s(kind, found))

    def keep_s(self, kind: Kind, found: bool) -> float:
        """The Redis TTL of an entry: its freshness plus the time it may be served stale."""
        if self.is_final(kind, found):
            return self.solidified_receipt_s
        return self.ttl_s(kind, found) + self.stale_for_s

    def local_keep_s(self, kind: Kind, found: bool) -> float:
        """How long the L1 keeps an entry of this kind: `local_s`, never longer than the kind's TTL."""
        return min(self.local_s, self.ttl_s(kind, found))


# Which CachePolicy field is the TTL of each kind (read on every cached answer: no dict built per call).
_TTL_FIELDS = {
    Kind.HEAD_BLOCK: "head_block_s",
    Kind.SOLIDIFIED_BLOCK: "solidified_block_s",
    Kind.HEAD_ACCOUNT: "account_s",
    Kind.SOLIDIFIED_ACCOUNT: "account_s",
    Kind.RESOURCES: "resources_s",
    Kind.HEAD_RECEIPT: "head_receipt_s",
    Kind.SOLIDIFIED_RECEIPT: "solidified_receipt_s",
    Kind.HEAD_BLOCK_RECEIPTS: "head_receipt_s",
    Kind.SOLIDIFIED_BLOCK_RECEIPTS: "solidified_receipt_s",
}
_FINAL_KINDS = frozenset({Kind.SOLIDIFIED_RECEIPT, Kind.SOLIDIFIED_BLOCK_RECEIPTS})


@dataclass(frozen=True, slots=True)
class CacheStatus:
    """How an answer was produced (lucid.tron.v1.CacheStatus)."""

    from_cache: bool
    stale: bool
    age_s: float


FETCHED = CacheStatus(from_cache=False, stale=False, age_s=0.0)


@dataclass(frozen=True, slots=True)
class Cached(Generic[T]):
    value: T
    status: CacheStatus
    # What `message` built from `value`, held by the cache entry the answer came from (None: not from an entry).
    built: dict[Callable[[Any], Any], Any] | None = field(default=None, compare=False, repr=False)

    def message(self, build: Callable[[T], M]) -> M:
        """`build(value)`, built once per cache entry and shared by every answer read from that entry.

        A hot read is answered thousands of times from one entry; building its protobuf message from the Python
        value each time was most of the relay's own work per call. The result is shared, so it must not be
        mutated: a response takes a copy of it when the message is set as one of its fields.
        """
        built = self.built
        if built is None:
            return build(self.value)
        message = built.get(build)
        if message is None:
            message = built[build] = build(self.value)
        return message  # type: ignore[no-any-return]


class CacheStore(Protocol):
    """Where entries live (Redis): never raises for an outage, a miss (get) or False (put) instead."""

    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, value: bytes, ttl_s: float) -> bool: ...


@dataclass(frozen=True, slots=True)
class _Entry:
    value: Any
    fetched_at: float  # Unix seconds: entries are shared between relay instances, so wall-clock time
    #: Messages built from `value` for answers (see `Cached.message`); they live and expire with the entry.
    built: dict[Callable[[Any], Any], Any] = field(default_factory=dict, compare=False, repr=False)


class LocalEntries:
    """The L1: decoded entries by key, each kept for a while after it was stored here, bounded, LRU.

    Times are the cache's clock (Unix seconds). An entry stored at `t` for `keep_s` is returned while
    t <= now <= t + keep_s: a clock that steps back does not keep an entry longer.
    """

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        # key -> (entry, stored at, kept until); in order of use, least recent first.
        self._entries: collections.OrderedDict[str, tuple[_Entry, float, float]] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, now: float) -> _Entry | None:
        held = self._entries.get(key)
        if held is None:
            return None
        entry, stored_at, until = held
        if not stored_at <= now <= until:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: str, entry: _Entry, keep_s: float, now: float) -> None:
        """Keep `entry` for `keep_s` from `now`, unless a newer one (fetched later) is held for `key`."""
        held = self._entries.get(key)
        if held is not None and held[0].fetched_at > entry.fetched_at and held[1] <= now <= held[2]:
            return
        self._entries[key] = (entry, now, now + keep_s)
        self._entries.move_to_end(key)
        # Entries expire within local_s, so the least recently used are the first to: drop those, then whatever
        # is over the bound.
        while self._entries:
            oldest, (_, stored_at, until) = next(iter(self._entries.items()))
            if len(self._entries) <= self._max_entries and stored_at <= now <= until:
                break
            del self._entries[oldest]

    def discard(self, key: str) -> None:
        self._entries.pop(key, None)


class ReadThroughCache:
    """The read path described in the module docstring. `namespace` separates networks sharing one Redis."""

    def __init__(
        self,
        store: CacheStore,
        policy: CachePolicy,
        *,
        namespace: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._policy = policy
        self._prefix = f"lucid:tron-relay:{FORMAT_VERSION}:{hashlib.sha256(namespace.encode()).hexdigest()[:12]}:"
        self._clock = clock
        self.flights: SingleFlight[str, _Entry] = SingleFlight()
        #: Redis GETs in progress, one per key, shared by the reads that miss the L1 meanwhile.
        self.loads: SingleFlight[str, _Entry | None] = SingleFlight()
        self.local = LocalEntries(policy.local_entries)

    def key(self, kind: Kind, argument: str) -> str:
        return f"{self._prefix}{kind.value}:{argument}"

    async def read(
        self,
        kind: Kind,
        argument: str,
        value_type: Any,
        fetch: Callable[[], Awaitable[T]],
        *,
        max_age_s: float | None = None,
    ) -> Cached[T]:
        """The answer to one read; `value_type` is T (e.g. `Receipt | None`: None is "not found", cached too)."""
        key = self.key(kind, argument)
        now = self._clock()
        local = self.local.get(key, now)
        if local is not None:
            age_s = max(0.0, now - local.fetched_at)
            if self._policy.is_fresh(kind, local.value is not None, age_s, max_age_s):
                return Cached(local.value, CacheStatus(True, False, age_s), local.built)
        cached = await asyncio.shield(self.loads.start(key, lambda: self._load(kind, key, value_type)))
        if local is not None and (cached is None or cached.fetched_at < local.fetched_at):
            cached = local  # not fresh enough for this caller, but the newest at hand if TronGrid fails
        age_s = 0.0
        if cached is not None:
            age_s = max(0.0, self._clock() - cached.fetched_at)
            if self._policy.is_fresh(kind, cached.value is not None, age_s, max_age_s):
                return Cached(cached.value, CacheStatus(True, False, age_s), cached.built)
        flight = self.flights.start(key, lambda: self._refresh(kind, key, fetch))
        try:
            entry = await asyncio.wait_for(asyncio.shield(flight), self._wait_s(stale_at_hand=cached is not None))
        except (Unavailable, DeadlineExceeded, TimeoutError) as failure:
            if cached is None:
                if isinstance(failure, Unavailable):
                    raise
                raise Unavailable(
                    "TronGrid did not answer in time and nothing is cached", reason="TRONGRID_TIMEOUT"
                ) from failure
            _log.info(
                "serving a %s answer %.1f s old marked stale: TronGrid %s",
                kind.value, age_s, _why(failure), extra={"cache_kind": kind.value},
            )
            return Cached(cached.value, CacheStatus(True, True, age_s), cached.built)
        return Cached(entry.value, FETCHED, entry.built)

    def _wait_s(self, *, stale_at_hand: bool) -> float:
        """How long this caller waits for the fetch: its deadline (less the time to answer), and with a stale answer
        at hand no longer than refresh_wait_s."""
        limit = self._policy.refresh_wait_s if stale_at_hand else self._policy.fetch_timeout_s
        left = deadlines.remaining()
        if left is None:
            return limit
        return max(0.0, min(limit, left - deadlines.MARGIN_S))

    async def _refresh(self, kind: Kind, key: str, fetch: Callable[[], Awaitable[Any]]) -> _Entry:
        with deadlines.within(self._policy.fetch_timeout_s):
            value = await fetch()
        entry = _Entry(value, self._clock())
        found = value is not None
        payload = json.dumps({"at": entry.fetched_at, "v": to_json(value)}, separators=(",", ":")).encode()
        if await self._store.put(key, payload, self._policy.keep_s(kind, found)):
            self._keep_locally(kind, key, entry)
        else:
            # Not in Redis, so not in the L1 either (see the module docstring): drop what it held, now outdated.
            self.local.discard(key)
        return entry

    async def _load(self, kind: Kind, key: str, value_type: Any) -> _Entry | None:
        """The entry in Redis (kept in the L1 too), or None when there is none, it is unreadable or Redis is down."""
        payload = await self._store.get(key)
        if payload is None:
            return None
        try:
            data = json.loads(payload)
            fetched_at = data["at"]
            if isinstance(fetched_at, bool) or not isinstance(fetched_at, (int, float)):
                raise CodecError("fetched-at time is not a number")
            entry = _Entry(from_json(value_type, data["v"]), float(fetched_at))
        except (ValueError, KeyError, TypeError) as error:  # CodecError is a ValueError, as is bad JSON
            _log.warning("ignoring an unreadable cache entry %s: %s", key, error)
            return None
        self._keep_locally(kind, key, entry)
        return entry

    def _keep_locally(self, kind: Kind, key: str, entry: _Entry) -> None:
        keep_s = self._policy.local_keep_s(kind, entry.value is not None)
        if keep_s > 0:
            self.local.put(key, entry, keep_s, self._clock())


def _why(failure: BaseException) -> str:
    if isinstance(failure, TimeoutError):
        return "is slow"
    return f"failed ({getattr(failure, 'reason', type(failure).__name__)})"

"""The chain watcher: finds the payments into invoices' deposit addresses, shows them SEEN while their block is not
final and credits them once it is; one replica at a time (a lease), every write fenced by it.

What counts (ARCHITECTURE, "credit only what is final"): a transfer tron-relay lists for a block (GetBlockTransfers,
TRX from the transfer contract and Transfer logs emitted by the configured USDT contract, so USDT moved from inside
another contract counts and a lookalike token does not), to a watched deposit address, with execution result
SUCCESS and an amount that is not dust (zero-value and dust transfers are how address poisoning shows up). It is
credited only from a block at or below the solidified head that the relay read from the solidified view; each
(txid, log_index) once (`states` ignores what it already knows).

A pass, by cost (`WatcherSettings.scan_threshold`):
- block scan (many open invoices): every `watcher_head_read_blocks` blocks (2: a payment SEEN at most one block after
  its own) the blocks after the last one read are read at head, in one request (GetBlockTransfers at FINALITY_HEAD:
  the bodies at once, a block's receipts only when it holds more than TRX transfers), when they should have arrived
  (`HeadPolls` learns the block interval and how late blocks arrive). Their payments are SEEN and the blocks join
  the `head_window` (header and transfers, in memory). A block whose parent id is not the id read at the height
  below shows a reorg: the window is read again, a payment gone from its block is reverted, one found at another
  height is reverted and seen there. Every `watcher_confirm_blocks` blocks, or as soon as a SEEN payment's block
  should be solidified, the solidified head is read: when its id is the id read at head, every window block up to
  it is final as read and its payments are credited without reading the blocks again; otherwise (and far behind,
  after a restart) the blocks are read from the solidified view in ranges;
- address history (few open invoices): each deposit address's history (ListAddressTransfers) names new txids;
  their blocks, and the blocks of SEEN payments, are read one by one (GetTransactionInfo, GetBlockTransfers);
- heartbeat (none open): the solidified head is read every `heartbeat_s`, to keep the cursor near the chain.

The cursor (`watcher_store`) is the last solidified block whose payments are all processed and that block's time.
It moves only forward and only over blocks read, so a restart resumes where the last holder stopped (no gap) and
crediting twice is impossible (`states` dedupes). A lagging node (load-balanced TronGrid: the head goes backwards)
only shortens what a read covers: a payment is judged gone only from a block the read covered, and blocks a node
holds are the chain's own; only a different content at a height is a reorg. The cursor's time is the chain's
clock for the expiry job (`ExpiryJob` expires nothing stamped after it): an invoice paid in a block stamped before
its expiry is paid however late the watcher learns of it. tron-relay failing (UNAVAILABLE when TronGrid answers
429, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED) ends the pass; the next one comes after an exponential backoff.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from lucid.tron.v1 import common_pb2, relay_pb2
from lucid_tron.config import Settings, setting
from lucid_tron.errors import LucidError, NotFound
from lucid_tron.mesh import metrics
from lucid_tron.storage import Lease, LeaseLost, Leases, raise_if_cancelled, utc_now

from . import states
from .head_window import HeadWindow
from .store import Fence
from .watcher_store import ChainCursor, WatcherStore

if TYPE_CHECKING:
    from google.protobuf.timestamp_pb2 import Timestamp

    from .invoices import Invoices

LEASE = "chain-watcher"
SCAN = "block-scan"
HISTORY = "address-history"
HEARTBEAT = "heartbeat"
#: GetBlockTransfers' largest range.
MAX_BLOCKS_PER_CALL = 100
#: Blocks read at head in one call: a read normally finds one or two new blocks; this bounds the answer when more.
MAX_HEAD_BLOCKS_PER_CALL = 20
#: Further behind the solidified head than this, block scanning reads the solidified blocks from the solidified view
#: first (in ranges, cached for good by tron-relay) instead of reading them at head into its window.
CATCH_UP_BLOCKS = 2 * MAX_BLOCKS_PER_CALL
#: Pages of an address's history read per pass (newest first): far more than an invoice is paid in.
HISTORY_PAGES = 4
HISTORY_PAGE_SIZE = 50
#: History read from this long before an invoice was created: clocks of block producers and ours differ.
HISTORY_SLACK = timedelta(minutes=1)
SUCCESS = common_pb2.EXECUTION_RESULT_SUCCESS

PAYMENTS = metrics.counter(
    "lucid_gateway_payments_total",
    "Payments the chain watcher recorded, by asset and outcome (seen, credited, reverted, ignored)",
    ["asset", "outcome"],
)
PASSES = metrics.counter("lucid_gateway_watcher_passes_total", "Chain watcher passes by strategy", ["strategy"])
RELAY_CALLS = metrics.counter(
    "lucid_gateway_watcher_relay_calls_total", "tron-relay calls of the chain watcher, by method and strategy",
    ["method", "strategy"],
)

_log = logging.getLogger("lucid_tron.services.payment_gateway.watcher")


@dataclass(frozen=True, kw_only=True)
class WatcherSettings(Settings):
    """How often the chain watcher looks, which strategy it takes, and what it ignores."""

    watcher_interval_s: float = setting("WATCHER_INTERVAL_S", default=1.0, ge=0.01, le=60)
    # Block scanning from this many watched invoices on; address history below it; a heartbeat at none.
    watcher_scan_threshold: int = setting("WATCHER_SCAN_THRESHOLD", default=3, ge=1, le=1_000_000)
    watcher_heartbeat_s: float = setting("WATCHER_HEARTBEAT_S", default=60.0, ge=0.01, le=3600)
    # How long TronGrid's address history may lag the solidified head it reported: the address-history strategy
    # moves the cursor only to a solidified head seen at least this long before its reads.
    watcher_history_settle_s: float = setting("WATCHER_HISTORY_SETTLE_S", default=30.0, ge=0, le=3600)
    watcher_lease_ttl_s: float = setting("WATCHER_LEASE_TTL_S", default=15.0, ge=0.5, le=600)
    watcher_max_backoff_s: float = setting("WATCHER_MAX_BACKOFF_S", default=30.0, ge=0.01, le=3600)
    # Block scanning reads the solidified head (to credit, and move the cursor, the chain's clock for expiry) every
    # this many blocks, or sooner for a SEEN payment whose block should be solidified.
    watcher_confirm_blocks: int = setting("WATCHER_CONFIRM_BLOCKS", default=20, ge=1, le=1000)
    # Block scanning reads the head every this many blocks (each read lists every block since the last): 1 shows a
    # payment SEEN in its own block; 2 (half the requests) at most one block later.
    watcher_head_read_blocks: int = setting("WATCHER_HEAD_READ_BLOCKS", default=2, ge=1, le=20)


class ChainWatcher:
    """Passes every `watcher_interval_s` while holding the lease (backing off while tron-relay fails)."""

    def __init__(
        self,
        invoices: Invoices,
        chain: WatcherStore,
        leases: Callable[[], Leases],
        settings: WatcherSettings,
        *,
        dust_base_units: int,
    ) -> None:
        # A factory: the store opens only after the start hooks that create this job.
        self._leases = leases
        self._invoices = invoices
        self._chain = chain
        self._settings = settings
        self._dust_base_units = dust_base_units
        self._lease: Lease | None = None
        self._failures = 0
        self._heartbeat_at: float | None = None
        # Solidified heads seen by address-history passes: (monotonic time, number, block time).
        self._observed: collections.deque[tuple[float, int, datetime]] = collections.deque(maxlen=10_000)
        self._heads = HeadPolls(settings.watcher_interval_s, settings.watcher_head_read_blocks)

    async def run(self) -> None:
        """Passes until cancelled; a failed pass is logged and the next comes after a backoff."""
        while True:
            raise_if_cancelled()  # a cancel that a pass swallowed (pymongo can, on Python 3.11) still ends the job
            await asyncio.sleep(self._delay_s())
            try:
                await self.run_once()
                self._failures = 0
            except LucidError as error:  # tron-relay throttled or down, MongoDB down, a concurrent change
                self._failures += 1
                _log.warning("chain watcher pass ended early (%s): %s", error.reason, error)
            except Exception:
                self._failures += 1
                _log.exception("chain watcher pass failed")

    def _delay_s(self) -> float:
        interval = self._settings.watcher_interval_s
        if not self._failures:
            return min(interval, self._heads.wait_s())
        backoff = min(self._settings.watcher_max_backoff_s, interval * 2 ** min(self._failures, 16))
        return backoff * random.uniform(0.5, 1.0)

    async def run_once(self) -> str:
        """One pass; the strategy it took ("" without the lease)."""
        leases = self._leases()
        try:
            self._lease = await (leases.acquire(LEASE) if self._lease is None else leases.renew(self._lease))
        except LeaseLost:
            self._lease = None
        if self._lease is None:
            self._heads.reset()  # another replica scans: nothing is due here, and what was read may go stale
            return ""
        lease = self._lease
        try:
            return await self._pass(partial(leases.fenced, lease))
        except LeaseLost:
            self._lease = None
            raise

    async def _renew(self) -> None:
        """Extend the held lease (LeaseLost when another replica took it)."""
        if self._lease is not None:
            self._lease = await self._leases().renew(self._lease)

    async def _pass(self, fence: Fence) -> str:
        started_at = utc_now()
        relay = _Relay(self._invoices, "")
        cursor = await self._chain.cursor()
        if cursor is None:
            relay.strategy = "start"
            solid = await relay.now_block(common_pb2.FINALITY_SOLIDIFIED)
            cursor = ChainCursor(solid.number, _time(solid.block_time), solid.number)
            await self._chain.save(cursor, fence)
        watched = await self._chain.watched(cursor.time)
        if not watched:
            strategy = HEARTBEAT
        elif len(watched) < self._settings.watcher_scan_threshold:
            strategy = HISTORY
        else:
            strategy = SCAN
        relay.strategy = strategy
        run = _Pass(
            self._invoices, self._chain, self._settings, relay, fence, self._renew, cursor, watched, self._dust_base_units
        )
        if strategy != SCAN:
            self._heads.reset()  # the window is not kept current meanwhile: a scan starts afresh
        if strategy == HEARTBEAT:
            await self._heartbeat(run, started_at)
        else:
            self._heartbeat_at = None
            if strategy == HISTORY:
                await self._history(run)
            else:
                self._observed.clear()
                await run.scan(self._heads)
        PASSES.labels(strategy).inc()
        return strategy

    async def _heartbeat(self, run: _Pass, started_at: datetime) -> None:
        """With no invoice watched, move the cursor to the solidified head now and then: no payment can be missed
        in blocks stamped before this pass looked for invoices and found none."""
        now = time.monotonic()
        if self._heartbeat_at is not None and now - self._heartbeat_at < self._settings.watcher_heartbeat_s:
            return
        self._heartbeat_at = now
        solid = await run.relay.now_block(common_pb2.FINALITY_SOLIDIFIED)
        if _time(solid.block_time) <= started_at:
            await run.advance(solid.number, _time(solid.block_time))

    async def _history(self, run: _Pass) -> None:
        started = time.monotonic()
        solid = await run.relay.now_block(common_pb2.FINALITY_SOLIDIFIED)
        self._observed.append((started, solid.number, _time(solid.block_time)))
        if not await run.history(solid.number):
            return  # the cursor waits for a pass that judged everything it found
        # Every history read of this pass came at least settle_s after these heads were seen: their blocks' payments
        # are all in it (TronGrid's history lags its chain a little), so the cursor may move to the newest of them.
        settled = None
        while self._observed and self._observed[0][0] <= started - self._settings.watcher_history_settle_s:
            settled = self._observed.popleft()
        if settled is not None:
            await run.advance(settled[1], settled[2])


class HeadPolls:
    """What block scanning keeps between passes: the window of blocks read at head, the newest block read, the
    solidification lags observed, and when the head is next worth reading.

    The head is read `watcher_head_read_blocks` block intervals (learned from the window) after the newest block's
    time, plus how late blocks arrive: read too early (no new block), that delay grows by a tenth of an interval;
    each read that finds blocks shrinks it by 1/200 of one. So the head is read about once per that many blocks
    however often the watcher passes, and hardly ever in vain. Every second block (the default) a payment is SEEN
    at most one block after its own: each read lists the block before the newest too."""

    def __init__(self, default_interval_s: float, blocks_per_read: int) -> None:
        self._default_interval_s = default_interval_s
        self._blocks_per_read = blocks_per_read
        self.window = HeadWindow()
        #: The newest block read at head.
        self.head: common_pb2.BlockHeader | None = None
        self._lags: collections.deque[int] = collections.deque(maxlen=20)
        self._arrival_s = 0.0
        self._next_at: float | None = None  # wall clock, as block times are
        #: When the solidified head was last read (monotonic).
        self.solidified_at: float | None = None

    def reset(self) -> None:
        self.window.clear()
        self.head = None
        self._lags.clear()
        self._next_at = None
        self.solidified_at = None

    def interval_s(self) -> float:
        interval_ms = self.window.block_interval_ms()
        return self._default_interval_s if interval_ms is None else interval_ms / 1000

    def due(self) -> bool:
        return self._next_at is None or time.time() >= self._next_at

    def wait_s(self) -> float:
        """Until the head is due: 0 when it is, infinite when nothing is planned."""
        return math.inf if self._next_at is None else max(0.0, self._next_at - time.time())

    def read(self, headers: Iterable[common_pb2.BlockHeader]) -> None:
        """A read of the head found these blocks (none: it came too early, or a node behind answered)."""
        interval_s = self.interval_s()
        newest = max(headers, key=lambda header: header.number, default=None)
        if newest is None:
            self._arrival_s = min(interval_s, self._arrival_s + interval_s / 10)
            return
        self._arrival_s = max(0.0, self._arrival_s - interval_s / 200)
        if self.head is None or newest.number > self.head.number:
            self.head = newest

    def head_by_now(self) -> int | None:
        """The head's number now, by the clock: the newest block read plus the intervals since."""
        if self.head is None:
            return None
        elapsed_s = time.time() - self.head.block_time.ToMilliseconds() / 1000 - self._arrival_s
        return self.head.number + max(0, math.floor(elapsed_s / self.interval_s()))

    def saw_solidified(self, solid: common_pb2.BlockHeader) -> None:
        self.solidified_at = time.monotonic()
        head = self.head_by_now()
        if head is not None and head >= solid.number:
            self._lags.append(head - solid.number)

    def lag(self) -> int | None:
        """Blocks between the head and the solidified head: the least seen lately (a cached solidified head only
        looks further behind)."""
        return min(self._lags) if self._lags else None

    def plan(self) -> None:
        """When to read the head next."""
        if self.head is None:
            self._next_at = None
            return
        interval_s = self.interval_s()
        due = self.head.block_time.ToMilliseconds() / 1000 + self._blocks_per_read * interval_s + self._arrival_s
        now = time.time()
        self._next_at = due if due > now else now + interval_s / 10


class _Relay:
    """tron-relay's reads the watcher makes, each counted by method and strategy."""

    def __init__(self, invoices: Invoices, strategy: str) -> None:
        self._invoices = invoices
        self.strategy = strategy
        contract = invoices.usdt_contract
        self.contracts = [contract] if contract else []

    def _count(self, method: str) -> None:
        RELAY_CALLS.labels(method, self.strategy).inc()

    async def now_block(self, finality: int, max_age_s: float = 0.0) -> common_pb2.BlockHeader:
        """The newest block of the view; no older than `max_age_s` when given (0: the relay's default)."""
        self._count("GetNowBlock")
        request = relay_pb2.RelayServiceGetNowBlockRequest(finality=finality)  # type: ignore[arg-type]
        if max_age_s:
            request.max_age.FromMilliseconds(max(1, round(max_age_s * 1000)))
        answer = await self._invoices.tron_relay.rpc.GetNowBlock(request)
        return answer.block

    async def block_transfers(
        self, first: int, last: int, *, at_head: bool = False
    ) -> relay_pb2.GetBlockTransfersResponse:
        """Blocks first..last: from the solidified view up to its head, or all `at_head` (read afresh)."""
        self._count("GetBlockTransfers")
        finality = common_pb2.FINALITY_HEAD if at_head else common_pb2.FINALITY_SOLIDIFIED
        return await self._invoices.tron_relay.rpc.GetBlockTransfers(
            relay_pb2.GetBlockTransfersRequest(
                first_block_number=first, last_block_number=last, contract_addresses=self.contracts, include_trx=True,
                finality=finality,  # type: ignore[arg-type]
            )
        )

    async def address_transfers(
        self, address: str, contract: str, since: datetime, page_token: str
    ) -> relay_pb2.ListAddressTransfersResponse:
        self._count("ListAddressTransfers")
        request = relay_pb2.ListAddressTransfersRequest(
            address=address, contract_address=contract, page_size=HISTORY_PAGE_SIZE, page_token=page_token
        )
        request.min_block_time.FromDatetime(since)
        return await self._invoices.tron_relay.rpc.ListAddressTransfers(request)

    async def block_of(self, txid: str) -> int | None:
        """The block that holds `txid` at head; None while no node view holds it."""
        self._count("GetTransactionInfo")
        try:
            answer = await self._invoices.tron_relay.rpc.GetTransactionInfo(
                relay_pb2.RelayServiceGetTransactionInfoRequest(txid=txid, finality=common_pb2.FINALITY_HEAD)
            )
        except NotFound:
            return None
        return answer.receipt.block_number


class _Pass:
    """One pass's view: the watched invoices (kept current as this pass changes them) and the cursor."""

    def __init__(
        self,
        invoices: Invoices,
        chain: WatcherStore,
        settings: WatcherSettings,
        relay: _Relay,
        fence: Fence,
        keep_lease: Callable[[], Awaitable[None]],
        cursor: ChainCursor,
        watched: Iterable[Mapping[str, Any]],
        dust_base_units: int,
    ) -> None:
        self._invoices = invoices
        self._chain = chain
        self._settings = settings
        self._dust_base_units = dust_base_units
        self.relay = relay
        self._fence = fence
        self._keep_lease = keep_lease
        self.cursor = cursor
        self._by_id: dict[str, Mapping[str, Any]] = {invoice["_id"]: invoice for invoice in watched}
        self._by_address = {
            (invoice["deposit_address"], invoice["token_contract"]): invoice["_id"]
            for invoice in self._by_id.values()
        }

    # -- strategies ---------------------------------------------------------------------------------------------

    async def scan(self, heads: HeadPolls) -> None:
        window = heads.window
        window.prune(self.cursor.block)
        solid = None
        if window.top is None:
            solid = await self._solidified(heads)
            if solid.number - self.cursor.block > CATCH_UP_BLOCKS:
                # Far behind (downtime): the solidified blocks are read from the solidified view, in ranges.
                await self._credit_solidified(solid.number, _time(solid.block_time))
        if heads.due():
            first_read = True
            while True:
                top = self._read_top(window)
                read = await self._read_at_head(window, top + 1, top + MAX_HEAD_BLOCKS_PER_CALL)
                if first_read or read:  # an empty read after the first is the head reached, not a read too early
                    heads.read(read)
                first_read = False
                if solid is not None and self.cursor.block < solid.number <= self._read_top(window):
                    await self._confirm(window, solid)
                if len(read) < MAX_HEAD_BLOCKS_PER_CALL:
                    break  # at the head (or a node behind answered): the rest comes next time
                await self._keep_lease()  # catching up
        if solid is None and (why := self._confirm_due(heads)):
            # For a payment, a solidified head no older than half a block: it is credited as soon as it is final.
            solid = await self._solidified(heads, heads.interval_s() / 2 if why == "payment" else 0.0)
        if solid is not None and self.cursor.block < solid.number <= self._read_top(window):
            await self._confirm(window, solid)
        top = self._read_top(window)
        if top > self.cursor.scanned_head:
            await self._save(ChainCursor(self.cursor.block, self.cursor.time, top))
        heads.plan()

    async def history(self, solid_number: int) -> bool:
        """Whether every transfer the histories named was judged (none skipped because a node lagged)."""
        complete = True
        blocks: set[int] = set()
        for invoice in list(self._by_id.values()):
            for txid in await self._new_txids(invoice):
                block = await self.relay.block_of(txid)
                if block is None:
                    complete = False  # listed by the history, not yet by the node that answered
                else:
                    blocks.add(block)
            blocks.update(p["block_number"] for p in invoice["payments"] if p["state"] == states.PAYMENT_SEEN)
        for block in sorted(blocks):
            answer = await self.relay.block_transfers(block, block)
            if answer.last_block_number < block:
                complete = False  # a node behind that block answered: nothing can be judged
                continue
            final_to = min(answer.solidified_block_number, solid_number)
            for transfer in answer.transfers:
                await self._record(transfer, final=transfer.solidified and block <= final_to)
            await self._revert_missing(block, block, answer.transfers)
        return complete

    async def advance(self, block: int, block_time: datetime) -> None:
        """Move the cursor to `block` (stamped `block_time`), never back."""
        if block > self.cursor.block:
            await self._save(ChainCursor(block, block_time, max(self.cursor.scanned_head, block)))

    # -- steps --------------------------------------------------------------------------------------------------

    def _read_top(self, window: HeadWindow) -> int:
        """The highest block read: at head (the window), or final (the cursor)."""
        top = window.top
        return self.cursor.block if top is None else max(top, self.cursor.block)

    async def _solidified(self, heads: HeadPolls, max_age_s: float = 0.0) -> common_pb2.BlockHeader:
        solid = await self.relay.now_block(common_pb2.FINALITY_SOLIDIFIED, max_age_s)
        heads.saw_solidified(solid)
        return solid

    def _confirm_due(self, heads: HeadPolls) -> str:
        """Why to read the solidified head now ("" not to): its lag is unknown ("lag"), `watcher_confirm_blocks`
        blocks should have solidified since the cursor ("cursor"), or a SEEN payment's block should have
        ("payment")."""
        lag, head = heads.lag(), heads.head_by_now()
        if lag is None or head is None:
            return "lag"
        solid_by_now = head - lag
        every = self._settings.watcher_confirm_blocks
        # Also by the clock: a cached solidified head a little behind must not have it read again each pass.
        waited = heads.solidified_at is None or time.monotonic() - heads.solidified_at >= every * heads.interval_s()
        if solid_by_now - self.cursor.block >= every and waited:
            return "cursor"
        seen = any(
            p["state"] == states.PAYMENT_SEEN and self.cursor.block < p["block_number"] <= solid_by_now
            for invoice in self._by_id.values()
            for p in invoice["payments"]
        )
        return "payment" if seen else ""

    async def _read_at_head(self, window: HeadWindow, first: int, last: int) -> list[common_pb2.BlockHeader]:
        """Read blocks first..last at head into the window, seeing their payments; a block not on the one read below
        it (a reorg) has the whole window read again. The headers read."""
        answer = await self.relay.block_transfers(first, last, at_head=True)
        by_block = _by_block(answer.transfers)
        for header in answer.blocks:
            if not window.extends(header):
                return await self._read_again(window, header.number)
            transfers = by_block.get(header.number, [])
            window.add(header, transfers)
            for transfer in transfers:
                await self._record(transfer, final=False)
            await self._revert_missing(header.number, header.number, transfers)
        return list(answer.blocks)

    async def _read_again(self, window: HeadWindow, through: int) -> list[common_pb2.BlockHeader]:
        """The chain changed under the window: read it again from the cursor through `through` at least; revert
        what is gone, see what moved. A read that is itself not one chain (nodes of a load balancer on two forks)
        stops there; the next read goes on. The headers read."""
        window.clear()
        first = self.cursor.block + 1
        transfers: list[relay_pb2.BlockTransfer] = []
        headers: list[common_pb2.BlockHeader] = []
        last_read = first - 1
        while last_read < through:
            last = min(through, last_read + MAX_HEAD_BLOCKS_PER_CALL)
            answer = await self.relay.block_transfers(last_read + 1, last, at_head=True)
            by_block = _by_block(answer.transfers)
            for header in answer.blocks:
                if not window.extends(header):
                    break
                window.add(header, by_block.get(header.number, []))
                transfers.extend(by_block.get(header.number, []))
                headers.append(header)
                last_read = header.number
            if last_read < last:
                break  # a node behind, or on another fork, answered
        for transfer in _latest(transfers):
            await self._record(transfer, final=False)
        await self._revert_missing(first, last_read, transfers)
        return headers

    async def _confirm(self, window: HeadWindow, solid: common_pb2.BlockHeader) -> None:
        """Credit the window's blocks up to `solid` when it is the block read at head; read them from the solidified
        view otherwise."""
        blocks = window.confirmed_by(solid, self.cursor.block + 1)
        if blocks is None:
            window.clear()  # not the chain read at head: it is read again, from the solidified view, then at head
            await self._credit_solidified(solid.number, _time(solid.block_time))
            return
        for block in blocks:
            for transfer in block.transfers:
                await self._record(transfer, final=True)
            await self._revert_missing(block.header.number, block.header.number, block.transfers)
        await self.advance(solid.number, _time(solid.block_time))
        window.prune(solid.number)

    async def _credit_solidified(self, solid_number: int, solid_time: datetime) -> None:
        """Read the blocks after the cursor up to the solidified head, credit their payments, move the cursor over
        them; stop before the first block the relay could not read from the solidified view."""
        while self.cursor.block < solid_number:
            first = self.cursor.block + 1
            last = min(solid_number, first + MAX_BLOCKS_PER_CALL - 1)
            answer = await self.relay.block_transfers(first, last)
            final_to = min(answer.last_block_number, answer.solidified_block_number, last)
            for transfer in answer.transfers:
                if transfer.block_number <= final_to and not transfer.solidified:
                    final_to = transfer.block_number - 1
                    break
            if final_to < first:
                return
            for transfer in answer.transfers:
                if transfer.block_number <= final_to:
                    await self._record(transfer, final=True)
            await self._revert_missing(first, final_to, answer.transfers)
            # A block's time is known only for the solidified head; a cursor short of it keeps its older time,
            # which only delays expiry.
            block_time = solid_time if final_to == solid_number else self.cursor.time
            await self.advance(final_to, block_time)
            if final_to < last:
                return
            await self._keep_lease()  # a long catch-up outlasts the lease's TTL

    async def _new_txids(self, invoice: Mapping[str, Any]) -> list[str]:
        """Txids of transfers into the invoice's address, from its history, that the invoice does not hold yet (or
        holds only as REVERTED); dust left out."""
        address, contract = invoice["deposit_address"], invoice["token_contract"]
        held = {p["txid"] for p in invoice["payments"] if p["state"] != states.PAYMENT_REVERTED}
        since = invoice["created_at"] - HISTORY_SLACK
        found: list[str] = []
        page_token = ""
        for _ in range(HISTORY_PAGES):
            page = await self.relay.address_transfers(address, contract, since, page_token)
            for transfer in page.transfers:
                if (
                    transfer.to_address == address
                    and not self._is_dust(invoice, transfer.amount_base_units)
                    and transfer.txid not in held
                    and transfer.txid not in found
                ):
                    found.append(transfer.txid)
            page_token = page.next_page_token
            if not page_token:
                break
        return found

    async def _record(self, transfer: relay_pb2.BlockTransfer, *, final: bool) -> None:
        """Apply one listed transfer to the invoice whose address it paid: seen (again, at its new height, if it
        moved) and, when `final`, credited."""
        invoice_id = self._by_address.get((transfer.to_address, transfer.contract_address))
        if invoice_id is None or transfer.result != SUCCESS:
            return
        invoice = self._by_id[invoice_id]
        if self._is_dust(invoice, transfer.amount_base_units):
            return
        known = _payment(invoice, transfer.txid, transfer.log_index)
        if (
            known is not None
            and known["state"] == states.PAYMENT_SEEN
            and known["block_number"] != transfer.block_number  # a reorg re-queued it: it landed elsewhere
        ):
            invoice = await self._commit(
                invoice, states.revert_payment(invoice, transfer.txid, transfer.log_index, self.cursor.time),
                "reverted",
            )  # fmt: skip
            known = _payment(invoice, transfer.txid, transfer.log_index)
        if known is None or known["state"] == states.PAYMENT_REVERTED:
            payment = states.Payment(
                txid=transfer.txid, log_index=transfer.log_index, from_address=transfer.from_address,
                amount=transfer.amount_base_units, block_number=transfer.block_number,
                block_time=_time(transfer.block_time),
            )  # fmt: skip
            seen = states.see_payment(invoice, payment)
            recorded = _payment(seen.changes, transfer.txid, transfer.log_index) if seen is not None else None
            # IGNORED: the invoice is closed or its monitoring window was over at that block.
            ignored = recorded is not None and recorded["state"] == states.PAYMENT_IGNORED
            invoice = await self._commit(invoice, seen, "ignored" if ignored else "seen")
            known = _payment(invoice, transfer.txid, transfer.log_index)
        if final and known is not None and known["state"] == states.PAYMENT_SEEN:
            await self._commit(invoice, states.credit_payment(invoice, transfer.txid, transfer.log_index), "credited")

    async def _revert_missing(
        self, first: int, last: int, transfers: Iterable[relay_pb2.BlockTransfer]
    ) -> None:
        """Revert the SEEN payments recorded in blocks first..last (as read) that the read no longer lists."""
        present = {(t.txid, t.log_index) for t in transfers}
        for invoice in list(self._by_id.values()):
            for payment in invoice["payments"]:
                if (
                    payment["state"] == states.PAYMENT_SEEN
                    and first <= payment["block_number"] <= last
                    and (payment["txid"], payment["log_index"]) not in present
                ):
                    current = self._by_id[invoice["_id"]]
                    transition = states.revert_payment(current, payment["txid"], payment["log_index"], self.cursor.time)
                    await self._commit(current, transition, "reverted")

    def _is_dust(self, invoice: Mapping[str, Any], amount: int) -> bool:
        return states.is_dust(invoice, amount, self._dust_base_units)

    async def _commit(
        self, invoice: Mapping[str, Any], transition: states.Transition | None, outcome: str
    ) -> Mapping[str, Any]:
        if transition is None:
            return invoice
        updated = await self._invoices.commit_fenced(invoice, transition, self._fence)
        self._by_id[updated["_id"]] = updated
        PAYMENTS.labels(updated["asset"], outcome).inc()
        return updated

    async def _save(self, cursor: ChainCursor) -> None:
        await self._chain.save(cursor, self._fence)
        self.cursor = cursor


def _latest(transfers: Iterable[relay_pb2.BlockTransfer]) -> list[relay_pb2.BlockTransfer]:
    """Each (txid, log_index) once, at its highest block: a relay's cached copy of a block a reorg replaced can
    still list a transaction that has landed again higher up, where it now is."""
    latest = {(transfer.txid, transfer.log_index): transfer for transfer in transfers}  # in block order
    return sorted(latest.values(), key=lambda transfer: transfer.block_number)


def _by_block(transfers: Iterable[relay_pb2.BlockTransfer]) -> dict[int, list[relay_pb2.BlockTransfer]]:
    found: dict[int, list[relay_pb2.BlockTransfer]] = {}
    for transfer in transfers:
        found.setdefault(transfer.block_number, []).append(transfer)
    return found


def _payment(invoice: Mapping[str, Any], txid: str, log_index: int) -> Mapping[str, Any] | None:
    return next((p for p in invoice["payments"] if p["txid"] == txid and p["log_index"] == log_index), None)


def _time(stamp: Timestamp) -> datetime:
    """A block's time at MongoDB's precision (TRON's is milliseconds already), exactly: no float on the way."""
    return _EPOCH + timedelta(milliseconds=stamp.ToMilliseconds())


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

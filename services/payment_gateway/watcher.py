"""The chain watcher: finds the payments into invoices' deposit addresses, shows them SEEN while their block is not
final and credits them once it is; one replica at a time (a lease), every write fenced by it.

What counts (ARCHITECTURE, "credit only what is final"): a transfer tron-relay lists for a block (GetBlockTransfers,
TRX from the transfer contract and Transfer logs emitted by the configured USDT contract, so USDT moved from inside
another contract counts and a lookalike token does not), to a watched deposit address, with execution result
SUCCESS and an amount that is not dust (zero-value and dust transfers are how address poisoning shows up). It is
credited only from a block at or below the solidified head that the relay read from the solidified view; each
(txid, log_index) once (`states` ignores what it already knows).

A pass, by cost (`WatcherSettings.scan_threshold`):
- block scan (many open invoices): the blocks from the cursor to the solidified head are read in ranges and their
  payments credited, then the new unsolidified blocks for SEEN. While the unsolidified window holds a SEEN (or a
  just REVERTED) payment the whole window is read again each pass: a payment gone from its block is reverted, one
  found at another height is reverted and seen there (a reorg re-queues transactions);
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
            return interval
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
        if strategy == HEARTBEAT:
            await self._heartbeat(run, started_at)
        else:
            self._heartbeat_at = None
            if strategy == HISTORY:
                await self._history(run)
            else:
                self._observed.clear()
                await run.scan()
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


class _Relay:
    """tron-relay's reads the watcher makes, each counted by method and strategy."""

    def __init__(self, invoices: Invoices, strategy: str) -> None:
        self._invoices = invoices
        self.strategy = strategy
        contract = invoices.usdt_contract
        self.contracts = [contract] if contract else []

    def _count(self, method: str) -> None:
        RELAY_CALLS.labels(method, self.strategy).inc()

    async def now_block(self, finality: int) -> common_pb2.BlockHeader:
        self._count("GetNowBlock")
        answer = await self._invoices.tron_relay.rpc.GetNowBlock(
            relay_pb2.RelayServiceGetNowBlockRequest(finality=finality)  # type: ignore[arg-type]
        )
        return answer.block

    async def block_transfers(self, first: int, last: int) -> relay_pb2.GetBlockTransfersResponse:
        self._count("GetBlockTransfers")
        return await self._invoices.tron_relay.rpc.GetBlockTransfers(
            relay_pb2.GetBlockTransfersRequest(
                first_block_number=first, last_block_number=last, contract_addresses=self.contracts, include_trx=True
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

    async def scan(self) -> None:
        solid = await self.relay.now_block(common_pb2.FINALITY_SOLIDIFIED)
        await self._credit_solidified(solid.number, _time(solid.block_time))
        head = await self.relay.now_block(common_pb2.FINALITY_HEAD)
        window_first = max(self.cursor.block, solid.number) + 1
        first = window_first if self._window_has_payments() else max(window_first, self.cursor.scanned_head + 1)
        scanned = self.cursor.scanned_head
        while first <= head.number:
            last = min(head.number, first + MAX_BLOCKS_PER_CALL - 1)
            answer = await self.relay.block_transfers(first, last)
            for transfer in _latest(answer.transfers):
                await self._record(transfer, final=False)
            await self._revert_missing(first, answer.last_block_number, answer.transfers)
            scanned = max(scanned, answer.last_block_number)
            if answer.last_block_number < last:
                break  # a node behind the head answered: the rest comes next pass
            first = last + 1
        if scanned > self.cursor.scanned_head:
            await self._save(ChainCursor(self.cursor.block, self.cursor.time, scanned))

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

    def _window_has_payments(self) -> bool:
        """Whether a SEEN or REVERTED payment sits above the cursor: the window is then read whole each pass."""
        unsettled = (states.PAYMENT_SEEN, states.PAYMENT_REVERTED)
        return any(
            p["state"] in unsettled and p["block_number"] > self.cursor.block
            for invoice in self._by_id.values()
            for p in invoice["payments"]
        )

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


def _payment(invoice: Mapping[str, Any], txid: str, log_index: int) -> Mapping[str, Any] | None:
    return next((p for p in invoice["payments"] if p["txid"] == txid and p["log_index"] == log_index), None)


def _time(stamp: Timestamp) -> datetime:
    """A block's time at MongoDB's precision (TRON's is milliseconds already), exactly: no float on the way."""
    return _EPOCH + timedelta(milliseconds=stamp.ToMilliseconds())


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

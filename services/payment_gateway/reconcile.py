"""Reconciliation: a second, independent reading of the chain for every open and recently closed invoice, which
repairs what the chain watcher missed and records each repair in a run.

Why: a watcher misses payments when it is down, when TronGrid throttles it or answers from a lagging node, or
through a bug; the complaint operators have most about payment processors is a payment that arrived and was never
credited. Here each deposit address's own transfer history (tron-relay's ListAddressTransfers) is read and every
transfer in it is checked against its solidified block (GetTransactionInfo, then GetBlockTransfers for the log index,
the receipt result and the solidified flag), so nothing depends on the watcher having run at all.

What is credited is only what is final: a transfer in a solidified block, receipt SUCCESS, a Transfer log emitted by
the configured USDT contract (or a top-level TRX transfer for a TRX invoice), of at least `dust_base_units` (less is
address-poisoning dust, never a payment). Repairs go through the same rules (`states`) and the same conditional
commit with an event (`store.apply`) as every other change, so a run racing the watcher can neither double-count
nor lose a change: a conflicting commit is read again and decided again. The lease only keeps two replicas from
doing the same work at once.

Plain async Python, no grpc: the servicer adapts it to ReconcileInvoices and ListReconciliationRuns.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from bson import ObjectId

from lucid.tron.v1 import common_pb2, relay_pb2
from lucid_tron.config import Settings, setting
from lucid_tron.context import deadlines
from lucid_tron.errors import Aborted, LucidError, NotFound, PeerFailed
from lucid_tron.storage import Lease, Leases, raise_if_cancelled, utc_now

from . import events, states
from .store import PaymentGatewayStore

if TYPE_CHECKING:
    from lucid_tron.peers import RelayService
    from redis.asyncio import Redis

LEASE = "invoice-reconciliation"
SCHEDULE = "schedule"
REQUEST = "request"

CREDITED = "CREDITED"
CONFIRMED = "CONFIRMED"
REVERTED = "REVERTED"

#: Statuses whose invoices are always read. EXPIRED ones are read while payments can still count (their monitoring
#: window and the lookback after it), found by their expiry: most invoices expire unpaid, and they pile up.
OPEN_STATUSES = (states.PENDING, states.SEEN, states.CONFIRMING)
#: CreateInvoice allows a monitoring window of at most 7 days: an invoice that expired longer ago is settled.
MAX_MONITORING_WINDOW = timedelta(days=7)
#: The most invoices one run on request reads (newest first: the likeliest to be paid); older ones beyond it are
#: not read.
MAX_INVOICES_PER_RUN = 2_000
#: The most candidates one run ranks (their RECONCILE_FIELDS only, newest first); older ones beyond it are not read.
MAX_CANDIDATES = 20_000
#: A scheduled run reads an invoice whose payable window closes within this many intervals ahead of the others: the
#: job starts a run up to a tenth of an interval late, so one interval ahead could fall between two runs.
CLOSING_SOON_INTERVALS = 2
#: The most history pages (of HISTORY_PAGE_SIZE, newest first) read per address: a flood of poisoning transfers
#: must not make one address cost a run hundreds of TronGrid requests.
MAX_HISTORY_PAGES = 10
HISTORY_PAGE_SIZE = 200
#: Block times come from the producers' clocks, not ours: a payment stamped a little before the invoice was created
#: still counts.
CLOCK_SKEW = timedelta(minutes=5)
#: How long ReconcileInvoices waits for a run in progress (on any replica) to finish, without a caller's deadline.
WAIT_FOR_RUN_S = 30.0
_WAIT_POLL_S = 0.25
_COMMIT_ATTEMPTS = 3

_log = logging.getLogger("lucid_tron.services.payment_gateway.reconcile")


@dataclass(frozen=True, kw_only=True)
class ReconcileSettings(Settings):
    """How often the invoices are reconciled, how far back closed ones are read, and what is too small to count."""

    # Each run costs one history read per invoice it reads (plus receipts and blocks of transfers it has not
    # credited): the interval trades TronGrid quota for how soon a payment the watcher missed is credited.
    reconcile_interval_s: float = setting("RECONCILE_INTERVAL_S", default=300.0, ge=1, le=86_400)
    # How long invoices stay read after they closed (or their monitoring window ended).
    reconcile_lookback_s: float = setting("RECONCILE_LOOKBACK_S", default=3_600.0, ge=0, le=30 * 86_400)
    # Transfers below this many base units (0.01 TRX or USDT by default) are address-poisoning dust, never a
    # payment: crediting them would turn an attacker's 0.000001 USDT into PAID_PARTIAL or PAID_OVER.
    payment_dust_base_units: int = setting("PAYMENT_DUST_BASE_UNITS", default=10_000, ge=1, le=10**12)
    # The most invoices a scheduled run reads; the rest wait for later runs (ReconciliationRun.invoices_deferred).
    # The budget is one TronGrid request per block in all (1,200 an hour at TRON's 3 s blocks) with 1,000 invoices
    # open. The chain watcher then takes 0.55-0.70 per block (bench/payments.py); reading an unpaid invoice costs
    # one history request, so 15 invoices a run every 300 s is 15 * 12 = 180 requests an hour, 0.15 per block:
    # 0.70-0.85 in all, the rest left for the receipts and blocks of transfers a run finds. With 1,000 open every
    # invoice is read at least every ceil(1,000 / 8) = 125 runs (the rotation gets at least half the budget),
    # every 67 runs (5.6 h) when none is urgent. A shorter RECONCILE_INTERVAL_S needs a smaller budget.
    reconcile_max_invoices_per_run: int = setting(
        "RECONCILE_MAX_INVOICES_PER_RUN", default=15, ge=1, le=MAX_INVOICES_PER_RUN
    )


class Reconciler:
    """Reconciliation runs over the store's invoices, reading the chain through tron-relay."""

    def __init__(
        self,
        store: PaymentGatewayStore,
        leases: Callable[[], Leases],
        *,
        tron_relay: RelayService,
        redis: Redis,
        usdt_contract: str,
        lookback_s: float,
        dust_base_units: int,
        max_invoices_per_run: int,
    ) -> None:
        # `leases` is a factory: the store opens only after the start hooks that build this object.
        self._store = store
        self._leases = leases
        self._relay = tron_relay
        self._redis = redis
        self._usdt_contract = usdt_contract
        self._lookback = timedelta(seconds=lookback_s)
        self._dust = dust_base_units
        self._budget = max_invoices_per_run

    @classmethod
    def configured(
        cls, store: PaymentGatewayStore, settings: ReconcileSettings, *, owner: str, tron_relay: RelayService,
        redis: Redis, usdt_contract: str,
    ) -> Reconciler:
        """The reconciler as payment-gateway runs it: its lease held by `owner` (host:pid), for 60 s at a time."""
        return cls(
            store,
            partial(store.leases, owner=owner, ttl_s=60.0),
            tron_relay=tron_relay,
            redis=redis,
            usdt_contract=usdt_contract,
            lookback_s=settings.reconcile_lookback_s,
            dust_base_units=settings.payment_dust_base_units,
            max_invoices_per_run=settings.reconcile_max_invoices_per_run,
        )

    async def requested(self, principal: str | None, invoice_ids: Sequence[str] = ()) -> dict[str, Any]:
        """A run now (ReconcileInvoices), after any run in progress; the finished run. A run that stops early (the
        relay down) is recorded with its error and the error is raised (Unavailable for a relay that is down).
        NotFound, and no run, when one of `invoice_ids` is unknown."""
        if invoice_ids:
            known = {invoice["_id"] for invoice in await self._by_id(invoice_ids)}
            for invoice_id in invoice_ids:
                if invoice_id not in known:
                    raise NotFound("invoice", invoice_id)
        lease = await self._wait_for_lease()
        try:
            run, failure = await self._run(lease, REQUEST, principal or "", invoice_ids, None)
        finally:
            await self._release(lease)
        if failure is not None:
            raise failure
        return run

    async def scheduled(self, interval_s: float) -> dict[str, Any] | None:
        """A run if none started in the last `interval_s` (on any replica) and no other is in progress; the run, or
        None when it was not due. Replicas each try every interval: the newest run's start decides. It reads at most
        the budget (RECONCILE_MAX_INVOICES_PER_RUN), the invoices that need it most (`_most_needed`)."""
        lease = await self._leases().acquire(LEASE)
        if lease is None:
            return None
        try:
            newest = await self._store.runs(None, 1)
            if newest and newest[0]["started_at"] > utc_now() - timedelta(seconds=interval_s):
                return None
            run, failure = await self._run(lease, SCHEDULE, "", (), interval_s)
        finally:
            await self._release(lease)
        if failure is not None:
            _log.warning("reconciliation run %s stopped early: %s", run["_id"], run["error"])
        return run

    async def runs_page(self, page_size: int, after_id: str | None) -> tuple[list[dict[str, Any]], str]:
        """One page of runs, newest first, and the id to continue after ("" on the last page)."""
        page = await self._store.runs(after_id, page_size + 1)
        if len(page) > page_size:
            return page[:page_size], page[page_size - 1]["_id"]
        return page, ""

    async def _run(
        self, lease: Lease, trigger: str, principal: str, invoice_ids: Sequence[str], interval_s: float | None
    ) -> tuple[dict[str, Any], LucidError | PeerFailed | None]:
        """The run, recorded, and the error that stopped it early (None when it read every invoice it chose).
        `interval_s`: a scheduled run's interval (it reads within the budget); None for a run on request."""
        run: dict[str, Any] = {
            "_id": f"rec_{ObjectId()}",
            "trigger": trigger,
            "principal": principal,
            "started_at": utc_now(),
            "ended_at": None,
            "invoices_checked": 0,
            "invoices_deferred": 0,
            "fixes": [],
            "error": "",
        }
        # Recorded at once: a run that dies with its process is visible as one that never ended.
        await self._store.save_run(run)
        failure: LucidError | PeerFailed | None = None
        renewed = time.monotonic()
        stamping: asyncio.Task[None] | None = None
        try:
            reads = _ChainReads(self._relay, self._usdt_contract)
            for invoice in await self._chosen(run, invoice_ids, utc_now(), interval_s):
                if time.monotonic() - renewed > self._leases().ttl_s / 3:
                    lease = await self._leases().renew(lease)
                    renewed = time.monotonic()
                fixes = await self._reconcile(invoice, reads)
                if fixes:
                    run["fixes"].extend(fixes)
                    await self._store.save_run(run)  # on record as soon as made, not only when the run ends
                if stamping is not None:
                    await stamping
                # Written while the next invoice is read: a run on request reads up to MAX_INVOICES_PER_RUN within
                # one RPC's deadline (CALL_TIMEOUT_S), and a write per invoice in line would add a tenth to it.
                stamping = asyncio.create_task(self._store.stamp_reconciled(invoice["_id"], utc_now()))
                run["invoices_checked"] += 1
        except (LucidError, PeerFailed) as error:
            failure = error
            run["error"] = str(getattr(error, "message", error))
        if stamping is not None:
            with suppress(LucidError):  # already the run's error, or lost: the invoice is only read again sooner
                await stamping
        run["ended_at"] = utc_now()
        # In a context of its own, without the caller's deadline: a run stopped by that deadline is still recorded
        # as ended, with its error.
        await asyncio.create_task(self._store.save_run(run), context=contextvars.Context())
        if run["fixes"]:
            _log.info("reconciliation run %s made %d fix(es)", run["_id"], len(run["fixes"]))
        return run, failure

    async def _chosen(
        self, run: dict[str, Any], invoice_ids: Sequence[str], now: datetime, interval_s: float | None
    ) -> list[Mapping[str, Any]]:
        """The invoices the run reads, in the order it reads them: those asked for; else for a run on request the
        newest MAX_INVOICES_PER_RUN of those due, for a scheduled one the budget's worth that need it most. The run
        counts the others due as deferred."""
        if invoice_ids:
            return await self._by_id(invoice_ids)
        if interval_s is None:
            newest = await self._store.invoices_to_reconcile(*self._horizons(now), MAX_INVOICES_PER_RUN, whole=True)
            read = [invoice for invoice in newest if self._worth_reading(invoice, now)]
            if len(newest) == MAX_INVOICES_PER_RUN:  # older ones may be due too
                run["invoices_deferred"] = len(await self._due(now)) - len(read)
            return read
        due = await self._due(now)
        chosen = _most_needed(due, now, self._budget, now + timedelta(seconds=CLOSING_SOON_INTERVALS * interval_s))
        run["invoices_deferred"] = len(due) - len(chosen)
        return await self._by_id([invoice["_id"] for invoice in chosen])

    async def _by_id(self, invoice_ids: Sequence[str]) -> list[Mapping[str, Any]]:
        """The invoices, read one by one: SecantusDB answers an $in of many ids by scanning every invoice once per
        id (3 s for a thousand)."""
        invoices = [await self._store.invoice(invoice_id) for invoice_id in dict.fromkeys(invoice_ids)]
        return [invoice for invoice in invoices if invoice is not None]

    async def _due(self, now: datetime) -> list[dict[str, Any]]:
        """The invoices to read now (their RECONCILE_FIELDS only), newest first."""
        candidates = await self._store.invoices_to_reconcile(*self._horizons(now), MAX_CANDIDATES)
        if len(candidates) == MAX_CANDIDATES:
            _log.warning("more than %d invoices to reconcile: the oldest are not read", MAX_CANDIDATES)
        return [invoice for invoice in candidates if self._worth_reading(invoice, now)]

    def _horizons(self, now: datetime) -> tuple[Sequence[str], datetime, datetime]:
        """What invoices_to_reconcile selects by: open statuses, changed since, expiring since."""
        return OPEN_STATUSES, now - self._lookback, now - self._lookback - MAX_MONITORING_WINDOW

    def _worth_reading(self, invoice: Mapping[str, Any], now: datetime) -> bool:
        """Open invoices, and closed or expired ones until `lookback` after they could last have been paid."""
        if invoice["status"] in OPEN_STATUSES:
            return True
        horizon = now - self._lookback
        if invoice["updated_at"] >= horizon:
            return True
        return invoice["status"] == states.EXPIRED and _window_end(invoice) >= horizon

    async def _reconcile(self, invoice: Mapping[str, Any], reads: _ChainReads) -> list[dict[str, Any]]:
        """The fixes this invoice needed: first the payments the watcher left SEEN, then its address's history."""
        fixes: list[dict[str, Any]] = []
        for payment in invoice["payments"]:
            if payment["state"] == states.PAYMENT_SEEN:
                fix = await self._settle_seen(invoice, payment, reads)
                if fix is not None:
                    fixes.append(fix)
        fixes.extend(await self._credit_missed(invoice, reads))
        return fixes

    async def _settle_seen(
        self, invoice: Mapping[str, Any], payment: Mapping[str, Any], reads: _ChainReads
    ) -> dict[str, Any] | None:
        """CONFIRMED when the payment is final where it was seen; REVERTED when its transaction is no longer there
        (it failed, or a reorg dropped or moved it: a moved one is credited afresh from the history); None while
        its block is not solidified."""
        txid, log_index = payment["txid"], payment["log_index"]
        final = await reads.final_receipt(txid)
        if final is not None and final.block_number == payment["block_number"]:
            listed = [transfer for transfer in await reads.block(final.block_number)
                      if transfer.txid == txid and _same_log(invoice, transfer.log_index, log_index)]
            if listed and not listed[0].solidified:
                return None  # the relay read the block at head (its solidified view lags): final next time
            if listed and self._is_payment(invoice, listed[0]):
                done = await self._commit(invoice["_id"], partial(_credit, txid=txid, log_index=log_index))
                return _fix(invoice, payment, CONFIRMED) if done else None
        elif final is None:
            head = await reads.head_receipt(txid)
            solidified_head = await reads.solidified_head()
            if head is not None and head.block_number == payment["block_number"]:
                return None  # still where it was seen, not final yet: the watcher's to follow
            if head is None and payment["block_number"] > solidified_head:
                return None  # not known at head, but its height is not final either: a lagging node, maybe
        done = await self._commit(
            invoice["_id"], lambda current: states.revert_payment(current, txid, log_index, utc_now())
        )
        return _fix(invoice, payment, REVERTED) if done else None

    async def _credit_missed(self, invoice: Mapping[str, Any], reads: _ChainReads) -> list[dict[str, Any]]:
        """Every final payment in the address's history that the invoice does not hold (or holds as REVERTED).
        A transaction whose every transfer here the invoice holds as CREDITED is final and counted: it is not read
        again, so an address whose history shows nothing new costs the one history request."""
        fixes: list[dict[str, Any]] = []
        history = await reads.received(
            invoice["deposit_address"], invoice["token_contract"], invoice["created_at"] - CLOCK_SKEW,
            _window_end(invoice), lambda amount: not states.is_dust(invoice, amount, self._dust),
        )  # fmt: skip
        held = Counter(
            (payment["txid"], payment["amount"])
            for payment in invoice["payments"]
            if payment["state"] == states.PAYMENT_CREDITED
        )
        for txid, amounts in history.items():
            if not Counter((txid, amount) for amount in amounts) - held:
                continue
            final = await reads.final_receipt(txid)
            if final is None:
                continue  # not solidified yet: the next run (or the watcher) takes it
            for transfer in await self._creditable(invoice, txid, final.block_number, reads):
                payment = states.Payment(
                    txid, transfer.log_index, transfer.from_address, transfer.amount_base_units,
                    transfer.block_number, transfer.block_time.ToDatetime(tzinfo=UTC),
                )  # fmt: skip
                seen = await self._commit(invoice["_id"], partial(_see, payment=payment))
                credited = await self._commit(invoice["_id"], partial(_credit, txid=txid, log_index=payment.log_index))
                if credited:
                    record = {"txid": txid, "log_index": payment.log_index, "amount": payment.amount}
                    fixes.append(_fix(invoice, record, CREDITED if seen else CONFIRMED))
        return fixes

    async def _creditable(
        self, invoice: Mapping[str, Any], txid: str, block_number: int, reads: _ChainReads
    ) -> list[relay_pb2.BlockTransfer]:
        """The transfers of `txid` into the invoice's address that are final payments of its asset."""
        return [
            transfer
            for transfer in await reads.block(block_number)
            if transfer.txid == txid and transfer.solidified and self._is_payment(invoice, transfer)
        ]

    def _is_payment(self, invoice: Mapping[str, Any], transfer: relay_pb2.BlockTransfer) -> bool:
        """A successful transfer of the invoice's asset into its address, larger than dust."""
        return (
            transfer.result == common_pb2.EXECUTION_RESULT_SUCCESS
            and transfer.to_address == invoice["deposit_address"]
            and transfer.contract_address == invoice["token_contract"]
            and not states.is_dust(invoice, transfer.amount_base_units, self._dust)
        )

    async def _commit(self, invoice_id: str, decide: Callable[[Mapping[str, Any]], states.Transition | None]) -> bool:
        """Apply `decide(invoice)` to the invoice as it is now, with its event; True when a change was committed.
        A concurrent change (the watcher's) makes it read and decide again."""
        for _ in range(_COMMIT_ATTEMPTS):
            invoice = await self._store.invoice(invoice_id)
            transition = None if invoice is None else decide(invoice)
            if invoice is None or transition is None:
                return False
            try:
                _, event = await self._store.apply(
                    dict(invoice), transition.changes, transition.event_type, transition.reason, transition.data
                )
            except Aborted:
                continue
            await events.publish(self._redis, event)
            return True
        _log.warning("invoice %s kept changing during reconciliation; the next run decides again", invoice_id)
        return False

    async def _wait_for_lease(self) -> Lease:
        """The lease, once the run holding it (on any replica) is done; Aborted if that takes too long."""
        give_up = time.monotonic() + deadlines.timeout(WAIT_FOR_RUN_S)
        while True:
            lease = await self._leases().acquire(LEASE)
            if lease is not None:
                return lease
            if time.monotonic() + _WAIT_POLL_S >= give_up:
                raise Aborted("a reconciliation run is in progress; try again when it ends",
                              reason="RECONCILIATION_RUNNING")
            await asyncio.sleep(_WAIT_POLL_S)

    async def _release(self, lease: Lease) -> None:
        try:
            await self._leases().release(lease)
        except LucidError:
            _log.warning("could not release the reconciliation lease; it expires by itself", exc_info=True)


class ReconcileJob:
    """Every `interval_s` (checked a tenth as often, so a replica picks up when another stops), a scheduled run."""

    def __init__(self, reconciler: Reconciler, *, interval_s: float) -> None:
        self._reconciler = reconciler
        self._interval_s = interval_s

    async def run(self) -> None:
        """Runs until cancelled; a failed round is logged and the next one tries again: an outage must not end the
        job. The first check is one tick after the start (the store opens after the start hooks)."""
        while True:
            raise_if_cancelled()  # a cancel that a run swallowed (pymongo can, on Python 3.11) still ends the job
            await asyncio.sleep(self._interval_s / 10)
            try:
                with deadlines.within(max(60.0, self._interval_s)):
                    await self._reconciler.scheduled(self._interval_s)
            except LucidError as error:
                _log.warning("reconciliation round skipped: %s", error)
            except Exception:
                _log.exception("reconciliation round failed")


class _ChainReads:
    """The chain as one run reads it through tron-relay: each receipt, block and the solidified head read once."""

    def __init__(self, relay: RelayService, usdt_contract: str) -> None:
        self._relay = relay
        self._usdt_contract = usdt_contract
        self._final: dict[str, common_pb2.TransactionReceipt | None] = {}
        self._blocks: dict[int, list[relay_pb2.BlockTransfer]] = {}
        self._solidified_head: int | None = None

    async def received(
        self, address: str, contract: str, since: datetime, until: datetime, counts: Callable[[int], bool]
    ) -> dict[str, list[int]]:
        """The transfers into `address` (of `contract`'s token, or TRX) in solidified blocks stamped in
        [since, until] whose amount `counts` (is not dust): their amounts by txid, oldest first."""
        request = relay_pb2.ListAddressTransfersRequest(
            address=address, contract_address=contract, only_confirmed=True, page_size=HISTORY_PAGE_SIZE
        )
        if until < since:
            return {}
        request.min_block_time.FromDatetime(since)
        request.max_block_time.FromDatetime(until)
        newest_first: list[tuple[str, int]] = []
        for _ in range(MAX_HISTORY_PAGES):
            page = await self._relay.rpc.ListAddressTransfers(request)
            for transfer in page.transfers:
                if transfer.to_address == address and counts(transfer.amount_base_units):
                    newest_first.append((transfer.txid, transfer.amount_base_units))
            if not page.next_page_token:
                break
            request.page_token = page.next_page_token
        else:
            _log.warning("history of %s longer than %d pages; older transfers wait", address, MAX_HISTORY_PAGES)
        amounts: dict[str, list[int]] = {}
        for txid, amount in reversed(newest_first):
            amounts.setdefault(txid, []).append(amount)
        return amounts

    async def final_receipt(self, txid: str) -> common_pb2.TransactionReceipt | None:
        """The transaction's receipt in the solidified view; None while that view holds none."""
        if txid not in self._final:
            receipt = await self._receipt(txid, common_pb2.FINALITY_SOLIDIFIED)
            self._final[txid] = receipt if receipt is not None and receipt.solidified else None
        return self._final[txid]

    async def head_receipt(self, txid: str) -> common_pb2.TransactionReceipt | None:
        return await self._receipt(txid, common_pb2.FINALITY_HEAD)

    async def block(self, number: int) -> list[relay_pb2.BlockTransfer]:
        """The TRX transfers and token Transfer logs of block `number` (every token: the caller filters)."""
        if number not in self._blocks:
            answer = await self._relay.rpc.GetBlockTransfers(
                relay_pb2.GetBlockTransfersRequest(
                    first_block_number=number, include_trx=True, contract_addresses=[self._usdt_contract]
                )
            )
            self._blocks[number] = list(answer.transfers)
        return self._blocks[number]

    async def solidified_head(self) -> int:
        if self._solidified_head is None:
            answer = await self._relay.rpc.GetNowBlock(
                relay_pb2.RelayServiceGetNowBlockRequest(finality=common_pb2.FINALITY_SOLIDIFIED)
            )
            self._solidified_head = answer.block.number
        return self._solidified_head

    async def _receipt(self, txid: str, finality: int) -> common_pb2.TransactionReceipt | None:
        try:
            answer = await self._relay.rpc.GetTransactionInfo(
                relay_pb2.RelayServiceGetTransactionInfoRequest(txid=txid, finality=finality)
            )
        except NotFound:
            return None
        return answer.receipt


def _see(invoice: Mapping[str, Any], payment: states.Payment) -> states.Transition | None:
    """Record a payment that can still count; one to a closed invoice or after the monitoring window is left for
    the watcher to record as IGNORED (reconciliation only repairs what moves money)."""
    if invoice["status"] in states.CLOSED or payment.block_time >= _window_end(invoice):
        return None
    if any(
        recorded["txid"] == payment.txid
        and recorded["state"] != states.PAYMENT_REVERTED
        and recorded["log_index"] != payment.log_index
        and _same_log(invoice, recorded["log_index"], payment.log_index)
        for recorded in invoice["payments"]
    ):
        return None  # recorded under another log index for TRX: the same payment, counted once
    return states.see_payment(invoice, payment)


def _same_log(invoice: Mapping[str, Any], log_index: int, other: int) -> bool:
    """Whether two log indexes name the same transfer of a transaction. A TRX payment is the transaction's one
    top-level transfer, whatever index a recorder gave it (-1 as the relay lists it; 0 in older contract text)."""
    return invoice["asset"] == "TRX" or log_index == other


def _credit(invoice: Mapping[str, Any], txid: str, log_index: int) -> states.Transition | None:
    for payment in invoice["payments"]:
        if payment["txid"] == txid and payment["log_index"] == log_index and payment["state"] == states.PAYMENT_SEEN:
            return states.credit_payment(invoice, txid, log_index)
    return None


def _fix(invoice: Mapping[str, Any], payment: Mapping[str, Any], action: str) -> dict[str, Any]:
    return {
        "invoice_id": invoice["_id"],
        "txid": payment["txid"],
        "log_index": payment["log_index"],
        "action": action,
        "amount": payment["amount"],
    }


def _most_needed(
    due: Sequence[Mapping[str, Any]], now: datetime, budget: int, closing_by: datetime
) -> list[Mapping[str, Any]]:
    """Up to `budget` of the invoices `due`, in the order to read them.

    First, in up to half the budget (rounded down), the urgent: still payable, and never read or with a payable
    window (expiry + monitoring window) closing by `closing_by`; soonest closing first. Then, in the rest (and what
    the urgent leave), the least recently read (one never read by its creation). The trade-off: when more invoices
    close per interval than half the budget, the latest-closing of them close unread by reconciliation (the watcher
    still credits them), because the rotation keeps its share: ahead of an invoice in the rotation are only those
    read, or created, before it was, and each run reads at least ceil(budget / 2) of them, so every invoice due is
    read within ceil(due / ceil(budget / 2)) runs however many new ones keep arriving (ceil(due / budget) runs when
    none is urgent)."""
    urgent = sorted(
        (
            invoice
            for invoice in due
            if _payable(invoice, now) and (invoice.get("reconciled_at") is None or _window_end(invoice) <= closing_by)
        ),
        key=_window_end,
    )[: budget // 2]
    picked = {invoice["_id"] for invoice in urgent}
    rotation = sorted(
        (invoice for invoice in due if invoice["_id"] not in picked),
        key=lambda invoice: invoice.get("reconciled_at") or invoice["created_at"],
    )
    return [*urgent, *rotation[: budget - len(urgent)]]


def _payable(invoice: Mapping[str, Any], now: datetime) -> bool:
    """Whether a payment can still count for the invoice: open or expired, inside its payable window."""
    return (invoice["status"] in OPEN_STATUSES or invoice["status"] == states.EXPIRED) and _window_end(invoice) > now


def _window_end(invoice: Mapping[str, Any]) -> datetime:
    end: datetime = invoice["expire_at"] + timedelta(seconds=invoice["monitoring_window_s"])
    return end

"""The chain watcher when things go wrong, on devnet (a block every 0.3 s, solidified 8 blocks behind) with payments
made by unmodified tronpy: a reorg of the block holding a payment, TronGrid answering 429, a load-balanced TronGrid
whose head goes backwards (each under block scanning and under address history), a watcher restart with a payment
made while it was down, and a lease takeover."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from integration.payment_gateway.gateway_kit import TRX, USDT, Gateway
from integration.payment_gateway.watcher_kit import (
    ChainBench,
    chain_bench,
    create_invoice,
    event_types,
    eventually,
    expire_in,
    invoice_now,
    is_paid,
    lease,
    until,
)
from lucid.tron.v1 import events_pb2 as ev, payment_gateway_pb2 as pg
from lucid_tron.services.payment_gateway.watcher import HISTORY, SCAN

LAG = 8
CREDITED = pg.PAYMENT_STATE_CREDITED


@pytest.fixture(scope="module")
async def bench(redis_url: str) -> AsyncIterator[ChainBench]:
    """Solidified 8 blocks behind: time to reorg a payment's block before it is final."""
    async with chain_bench(redis_url, solidification_lag=LAG) as running:
        yield running


@pytest.fixture(params=[SCAN, HISTORY])
async def watching(
    request: pytest.FixtureRequest, bench: ChainBench, mongo_url: str, redis_url: str, tmp_path: Path
) -> AsyncIterator[Gateway]:
    """A gateway whose watcher scans blocks (threshold 1), or reads the address's history (threshold 10)."""
    threshold = 1 if request.param == SCAN else 10
    try:
        async with bench.gateway(mongo_url, redis_url, tmp_path, watcher_scan_threshold=threshold) as running:
            yield running
    finally:
        bench.devnet.faults.clear()


def block_holding(bench: ChainBench, txid: str) -> int | None:
    """devnet's own answer (no HTTP, so no injected fault): the head block holding `txid`, if any."""
    found = bench.devnet.chain.locate(bytes.fromhex(txid))
    return None if found is None else found[0].number


async def included(bench: ChainBench, txid: str) -> int:
    async def holding() -> int | None:
        return block_holding(bench, txid)

    block: int = await eventually(holding)
    return block


async def test_a_reorg_of_the_block_holding_a_payment_reverts_it_and_it_is_credited_where_it_lands_again(
    bench: ChainBench, watching: Gateway, devnet_accounts
) -> None:
    invoice = await create_invoice(watching, asset=USDT, amount_base_units=4_000_000)
    txid = await bench.pay_usdt(devnet_accounts[0], invoice.deposit_address, 4_000_000)
    seen = await until(watching, invoice.invoice_id, lambda i: i.status == pg.INVOICE_STATUS_CONFIRMING)
    first_block = seen.payments[0].block_number

    # Replace every block from the payment's up: the transaction goes back to the pool and lands in the next one.
    taken_out = bench.devnet.reorg(bench.devnet.head_number - first_block + 1, requeue=True)
    paid = await until(watching, invoice.invoice_id, is_paid)

    assert txid in taken_out
    [payment] = paid.payments
    assert payment.txid == txid and payment.state == CREDITED
    assert payment.block_number == block_holding(bench, txid) != first_block
    assert paid.paid_amount_base_units == 4_000_000
    assert await event_types(watching, invoice.invoice_id) == [
        ev.EVENT_TYPE_INVOICE_CREATED, ev.EVENT_TYPE_INVOICE_PAYMENT_SEEN, ev.EVENT_TYPE_INVOICE_PAYMENT_REVERTED,
        ev.EVENT_TYPE_INVOICE_PAYMENT_SEEN, ev.EVENT_TYPE_INVOICE_PAID,
    ]  # fmt: skip


async def test_a_reorg_that_drops_a_payment_reverts_the_invoice_to_pending(
    bench: ChainBench, watching: Gateway, devnet_accounts
) -> None:
    invoice = await create_invoice(watching, asset=TRX, amount_base_units=2_000_000)
    txid = await bench.pay_trx(devnet_accounts[1], invoice.deposit_address, 2_000_000)
    seen = await until(watching, invoice.invoice_id, lambda i: i.status == pg.INVOICE_STATUS_CONFIRMING)

    bench.devnet.reorg(bench.devnet.head_number - seen.payments[0].block_number + 1, requeue=False)
    reverted = await until(watching, invoice.invoice_id, lambda i: i.status == pg.INVOICE_STATUS_PENDING)

    assert [(p.txid, p.state) for p in reverted.payments] == [(txid, pg.PAYMENT_STATE_REVERTED)]
    assert (reverted.pending_amount_base_units, reverted.paid_amount_base_units) == (0, 0)


async def test_trongrid_throttling_delays_the_payment_but_never_expires_an_invoice_paid_in_time(
    bench: ChainBench, watching: Gateway, mongo_url: str, devnet_accounts
) -> None:
    invoice = await create_invoice(watching, asset=USDT, amount_base_units=3_000_000)
    expire_at = await expire_in(mongo_url, watching.database, invoice.invoice_id, 1.5)

    txid = await bench.pay_usdt(devnet_accounts[2], invoice.deposit_address, 3_000_000)
    bench.devnet.faults.add(status=429, rate=1.0)  # before the next block: the watcher cannot have seen it
    block = await included(bench, txid)
    assert bench.devnet.chain.blocks[block].timestamp < expire_at.timestamp() * 1000
    await asyncio.sleep(max(0.0, expire_at.timestamp() - time.time()) + 2.0)  # well past expiry, still throttled
    during = await invoice_now(watching, invoice.invoice_id)
    bench.devnet.faults.clear()
    paid = await until(watching, invoice.invoice_id, is_paid)

    assert (during.status, len(during.payments)) == (pg.INVOICE_STATUS_PENDING, 0)
    assert paid.exception == pg.INVOICE_EXCEPTION_NONE
    assert [(p.txid, p.after_expiration) for p in paid.payments] == [(txid, False)]
    assert ev.EVENT_TYPE_INVOICE_EXPIRED not in await event_types(watching, invoice.invoice_id)


async def test_a_load_balanced_trongrid_whose_head_goes_backwards_is_no_reorg(
    bench: ChainBench, watching: Gateway, devnet_accounts
) -> None:
    lagging = bench.devnet.faults.add(lag_blocks=3, rate=0.6)
    invoice = await create_invoice(watching, asset=USDT, amount_base_units=6_000_000)

    txid = await bench.pay_usdt(devnet_accounts[0], invoice.deposit_address, 6_000_000)
    paid = await until(watching, invoice.invoice_id, is_paid)

    assert lagging.matched > 0
    assert [(p.txid, p.state) for p in paid.payments] == [(txid, CREDITED)]
    assert await event_types(watching, invoice.invoice_id) == [
        ev.EVENT_TYPE_INVOICE_CREATED, ev.EVENT_TYPE_INVOICE_PAYMENT_SEEN, ev.EVENT_TYPE_INVOICE_PAID,
    ]  # fmt: skip


async def test_a_payment_made_while_the_watcher_is_down_is_credited_once_after_restart(
    bench: ChainBench, mongo_url: str, redis_url: str, tmp_path: Path, devnet_accounts
) -> None:
    async with bench.gateway(mongo_url, redis_url, tmp_path) as first:
        invoice = await create_invoice(first, asset=USDT, amount_base_units=5_000_000)
        before = await bench.pay_usdt(devnet_accounts[0], invoice.deposit_address, 2_000_000)
        await until(first, invoice.invoice_id, lambda i: i.status == pg.INVOICE_STATUS_SEEN)
    during = await bench.pay_usdt(devnet_accounts[1], invoice.deposit_address, 3_000_000)
    # Both final before the watcher comes back: it catches up from its cursor.
    final_at = await included(bench, during) + LAG

    async def final() -> bool:
        return bench.devnet.head_number > final_at

    await eventually(final)

    async with bench.gateway(mongo_url, redis_url, tmp_path, mongo_database=first.database) as second:
        paid = await until(second, invoice.invoice_id, is_paid)
        await asyncio.sleep(1.0)  # more passes over the same blocks change nothing
        settled = await invoice_now(second, invoice.invoice_id)

    assert sorted((p.txid, p.amount_base_units, p.state) for p in settled.payments) == sorted(
        [(before, 2_000_000, CREDITED), (during, 3_000_000, CREDITED)]
    )
    assert (settled.paid_amount_base_units, settled.pending_amount_base_units) == (5_000_000, 0)
    assert settled.sequence == paid.sequence


async def test_another_replica_takes_the_watcher_over_when_the_holder_is_gone(
    bench: ChainBench, mongo_url: str, redis_url: str, tmp_path: Path, devnet_accounts
) -> None:
    async with contextlib.AsyncExitStack() as holding:
        holder = await holding.enter_async_context(bench.gateway(mongo_url, redis_url, tmp_path))
        database = holder.database
        async with bench.gateway(mongo_url, redis_url, tmp_path, mongo_database=database) as standby:
            await asyncio.sleep(1.0)  # passes of both: only the holder works
            held = await lease(mongo_url, database)
            await holding.aclose()  # the holder is gone without a word (its lease runs out)
            invoice = await create_invoice(standby, asset=USDT, amount_base_units=1_000_000)
            await bench.pay_usdt(devnet_accounts[2], invoice.deposit_address, 1_000_000)
            paid = await until(standby, invoice.invoice_id, is_paid)
            taken = await lease(mongo_url, database)

    assert held is not None and taken is not None
    assert held["token"] == 1 and taken["token"] == 2
    assert paid.paid_amount_base_units == 1_000_000

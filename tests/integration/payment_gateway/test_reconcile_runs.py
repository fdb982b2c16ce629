"""Reconciliation runs as records, and reconciliation of payments a chain watcher left SEEN: runs are listed newest
first and paged; a relay that is down makes ReconcileInvoices UNAVAILABLE and the run records why it stopped; a
SEEN payment whose block solidified is CONFIRMED, one whose transaction left the chain is REVERTED."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from tronpy import AsyncTron
from tronpy.providers.async_http import AsyncHTTPProvider

from fixtures.servers import REDIS_TEST_DB
from integration.payment_gateway.gateway_kit import NOBODY, Gateway, create_request
from integration.payment_gateway.reconcile_kit import chain_gateway, pay_usdt
from integration.tron_relay.tron_relay_kit import RunningRelay, start_relay
from lucid.tron.v1 import payment_gateway_pb2 as pg
from lucid_tron.devnet import Devnet
from lucid_tron.services.payment_gateway import states
from lucid_tron.services.payment_gateway.store import PaymentGatewayStore
from lucid_tron.storage import MongoSettings

AMOUNT = 5_000_000


@pytest.fixture
async def chain(start_devnet) -> AsyncIterator[Devnet]:
    async with start_devnet(block_interval=0) as running:
        yield running


@pytest.fixture
async def relay(chain: Devnet, redis_server, redis_client) -> AsyncIterator[RunningRelay]:
    async with start_relay(chain, redis_server.url_for_db(REDIS_TEST_DB)) as running:
        yield running


@pytest.fixture
async def running(mongo_url: str, redis_url: str, tmp_path: Path, chain: Devnet, relay: RunningRelay
                  ) -> AsyncIterator[Gateway]:
    async with chain_gateway(mongo_url, redis_url, tmp_path, chain, relay.server.address) as served:
        yield served


@pytest.fixture
async def tron(chain: Devnet) -> AsyncIterator[AsyncTron]:
    client = AsyncTron(AsyncHTTPProvider(chain.url, api_key=None))
    yield client
    await client.close()


@pytest.fixture
async def watcher_store(mongo_url: str, running: Gateway) -> AsyncIterator[PaymentGatewayStore]:
    """The gateway's own database, written as a chain watcher would write it."""
    store = PaymentGatewayStore(MongoSettings(mongo_url=mongo_url, mongo_database=running.database))
    await store.open()
    yield store
    await store.close()


async def new_invoice(running: Gateway) -> pg.Invoice:
    return (await running.stub.CreateInvoice(create_request(amount_base_units=AMOUNT))).invoice


async def reconcile(running: Gateway) -> pg.ReconciliationRun:
    return (await running.stub.ReconcileInvoices(pg.ReconcileInvoicesRequest())).run


async def seen_by_watcher(store: PaymentGatewayStore, chain: Devnet, invoice_id: str, txid: str, block: int) -> None:
    """What a chain watcher records for a USDT payment in an unsolidified block (log index 0)."""
    invoice = await store.invoice(invoice_id)
    assert invoice is not None
    timestamp = chain.chain.block(block, solidified=False).timestamp
    payment = states.Payment(txid, 0, "T" * 34, AMOUNT, block, datetime.fromtimestamp(timestamp / 1000, UTC))
    transition = states.see_payment(invoice, payment)
    assert transition is not None
    await store.apply(invoice, transition.changes, transition.event_type, transition.reason, transition.data)


async def test_runs_are_listed_newest_first_one_page_at_a_time(running):
    started = [(await reconcile(running)).run_id for _ in range(3)]

    first = await running.stub.ListReconciliationRuns(pg.ListReconciliationRunsRequest(page_size=2))
    second = await running.stub.ListReconciliationRuns(
        pg.ListReconciliationRunsRequest(page_size=2, page_token=first.next_page_token)
    )

    assert [run.run_id for run in [*first.runs, *second.runs]] == started[::-1]
    assert first.next_page_token and not second.next_page_token
    assert all(run.run_id.startswith("rec_") and run.HasField("end_time") for run in first.runs)


async def test_a_bad_page_token_is_invalid_argument_naming_it(running):
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await running.stub.ListReconciliationRuns(pg.ListReconciliationRunsRequest(page_token="inv_0"))

    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "page_token" in failure.value.details()


async def test_a_bad_invoice_id_is_invalid_argument_naming_it(running):
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await running.stub.ReconcileInvoices(pg.ReconcileInvoicesRequest(invoice_ids=["nope"]))

    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "invoice_ids" in failure.value.details()


async def test_a_relay_that_is_down_is_unavailable_and_the_run_records_why_it_stopped(
    mongo_url, redis_url, tmp_path, chain
):
    async with chain_gateway(mongo_url, redis_url, tmp_path, chain, NOBODY) as served:
        await new_invoice(served)

        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await served.stub.ReconcileInvoices(pg.ReconcileInvoicesRequest(), timeout=20)
        listed = await served.stub.ListReconciliationRuns(pg.ListReconciliationRunsRequest())

    assert failure.value.code() == grpc.StatusCode.UNAVAILABLE
    [run] = listed.runs
    assert run.error and run.invoices_checked == 0 and run.HasField("end_time")


async def test_only_the_invoices_asked_for_are_read(running, chain, tron, devnet_accounts):
    asked, other = await new_invoice(running), await new_invoice(running)
    for invoice in (asked, other):
        await pay_usdt(tron, chain, devnet_accounts[0], invoice.deposit_address, AMOUNT)
    chain.produce_block()
    chain.solidify()

    run = (await running.stub.ReconcileInvoices(pg.ReconcileInvoicesRequest(invoice_ids=[asked.invoice_id]))).run

    assert [(f.invoice_id, f.action) for f in run.fixes] == [(asked.invoice_id, pg.RECONCILIATION_ACTION_CREDITED)]
    assert run.invoices_checked == 1


async def test_a_seen_payment_whose_block_solidified_is_confirmed(
    running, chain, tron, devnet_accounts, watcher_store
):
    invoice = await new_invoice(running)
    txid = await pay_usdt(tron, chain, devnet_accounts[0], invoice.deposit_address, AMOUNT)
    block = chain.produce_block().number
    await seen_by_watcher(watcher_store, chain, invoice.invoice_id, txid, block)
    chain.solidify()

    run = await reconcile(running)

    assert [(f.txid, f.log_index, f.action, f.amount_base_units) for f in run.fixes] == [
        (txid, 0, pg.RECONCILIATION_ACTION_CONFIRMED, AMOUNT)
    ]
    paid = (await running.stub.GetInvoice(pg.GetInvoiceRequest(invoice_id=invoice.invoice_id))).invoice
    assert (paid.status, paid.paid_amount_base_units, paid.pending_amount_base_units) == (
        pg.INVOICE_STATUS_PAID, AMOUNT, 0
    )


async def test_a_seen_payment_whose_block_is_not_solidified_is_left_to_the_watcher(
    running, chain, tron, devnet_accounts, watcher_store
):
    invoice = await new_invoice(running)
    txid = await pay_usdt(tron, chain, devnet_accounts[0], invoice.deposit_address, AMOUNT)
    block = chain.produce_block().number
    await seen_by_watcher(watcher_store, chain, invoice.invoice_id, txid, block)

    run = await reconcile(running)

    assert list(run.fixes) == []
    seen = (await running.stub.GetInvoice(pg.GetInvoiceRequest(invoice_id=invoice.invoice_id))).invoice
    assert seen.status == pg.INVOICE_STATUS_CONFIRMING


async def test_a_seen_payment_dropped_by_a_reorg_is_reverted(running, chain, tron, devnet_accounts, watcher_store):
    invoice = await new_invoice(running)
    txid = await pay_usdt(tron, chain, devnet_accounts[0], invoice.deposit_address, AMOUNT)
    block = chain.produce_block().number
    await seen_by_watcher(watcher_store, chain, invoice.invoice_id, txid, block)
    assert chain.reorg(1, requeue=False) == [txid]
    chain.solidify()

    run = await reconcile(running)

    assert [(f.txid, f.action) for f in run.fixes] == [(txid, pg.RECONCILIATION_ACTION_REVERTED)]
    reverted = (await running.stub.GetInvoice(pg.GetInvoiceRequest(invoice_id=invoice.invoice_id))).invoice
    assert (reverted.status, reverted.pending_amount_base_units) == (pg.INVOICE_STATUS_PENDING, 0)
    assert [p.state for p in reverted.payments] == [pg.PAYMENT_STATE_REVERTED]


async def test_a_seen_payment_moved_by_a_reorg_is_reverted_and_credited_at_its_new_height(
    running, chain, tron, devnet_accounts, watcher_store
):
    invoice = await new_invoice(running)
    txid = await pay_usdt(tron, chain, devnet_accounts[0], invoice.deposit_address, AMOUNT)
    block = chain.produce_block().number
    await seen_by_watcher(watcher_store, chain, invoice.invoice_id, txid, block)
    assert chain.reorg(1, requeue=True) == [txid]
    chain.produce_block()  # the requeued transaction lands one block higher
    chain.solidify()

    run = await reconcile(running)

    assert [(f.txid, f.action) for f in run.fixes] == [
        (txid, pg.RECONCILIATION_ACTION_REVERTED), (txid, pg.RECONCILIATION_ACTION_CREDITED)
    ]
    paid = (await running.stub.GetInvoice(pg.GetInvoiceRequest(invoice_id=invoice.invoice_id))).invoice
    assert (paid.status, paid.paid_amount_base_units) == (pg.INVOICE_STATUS_PAID, AMOUNT)
    assert [p.block_number for p in paid.payments] == [block + 1]

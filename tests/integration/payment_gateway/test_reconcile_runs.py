"""Reconciliation runs as records, and reconciliation of payments a chain watcher left SEEN: runs are listed newest
first and paged; a relay that is down makes ReconcileInvoices UNAVAILABLE and the run records why it stopped; a
SEEN payment whose block solidified is CONFIRMED, one whose transaction left the chain is REVERTED."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from integration.payment_gateway.gateway_kit import NOBODY, TRX, Gateway, create_request
from integration.payment_gateway.reconcile_kit import (
    chain, chain_gateway, gateway_store, on_chain, pay_trx, pay_usdt, relay, tron,
)
from lucid.tron.v1 import payment_gateway_pb2 as pg
from lucid_tron.devnet import Devnet
from lucid_tron.services.payment_gateway import states
from lucid_tron.services.payment_gateway.store import PaymentGatewayStore

#: Fixtures of reconcile_kit, used by name.
__all__ = ["chain", "gateway_store", "on_chain", "relay", "tron"]

AMOUNT = 5_000_000


async def new_invoice(on_chain: Gateway) -> pg.Invoice:
    return (await on_chain.stub.CreateInvoice(create_request(amount_base_units=AMOUNT))).invoice


async def reconcile(on_chain: Gateway) -> pg.ReconciliationRun:
    return (await on_chain.stub.ReconcileInvoices(pg.ReconcileInvoicesRequest())).run


async def seen_by_watcher(
    store: PaymentGatewayStore, chain: Devnet, invoice_id: str, txid: str, block: int, *, log_index: int = 0
) -> None:
    """What a chain watcher records for a payment of AMOUNT in an unsolidified block."""
    invoice = await store.invoice(invoice_id)
    assert invoice is not None
    timestamp = chain.chain.block(block, solidified=False).timestamp
    payment = states.Payment(txid, log_index, "T" * 34, AMOUNT, block, datetime.fromtimestamp(timestamp / 1000, UTC))
    transition = states.see_payment(invoice, payment)
    assert transition is not None
    await store.apply(invoice, transition.changes, transition.event_type, transition.reason, transition.data)


async def test_runs_are_listed_newest_first_one_page_at_a_time(on_chain):
    started = [(await reconcile(on_chain)).run_id for _ in range(3)]

    first = await on_chain.stub.ListReconciliationRuns(pg.ListReconciliationRunsRequest(page_size=2))
    second = await on_chain.stub.ListReconciliationRuns(
        pg.ListReconciliationRunsRequest(page_size=2, page_token=first.next_page_token)
    )

    assert [run.run_id for run in [*first.runs, *second.runs]] == started[::-1]
    assert first.next_page_token and not second.next_page_token
    assert all(run.run_id.startswith("rec_") and run.HasField("end_time") for run in first.runs)


async def test_a_bad_page_token_is_invalid_argument_naming_it(on_chain):
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await on_chain.stub.ListReconciliationRuns(pg.ListReconciliationRunsRequest(page_token="inv_0"))

    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "page_token" in failure.value.details()


async def test_a_bad_invoice_id_is_invalid_argument_naming_it(on_chain):
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await on_chain.stub.ReconcileInvoices(pg.ReconcileInvoicesRequest(invoice_ids=["nope"]))

    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "invoice_ids" in failure.value.details()


async def test_an_unknown_invoice_is_not_found_and_starts_no_run(on_chain):
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await on_chain.stub.ReconcileInvoices(pg.ReconcileInvoicesRequest(invoice_ids=["inv_" + "0" * 24]))
    listed = await on_chain.stub.ListReconciliationRuns(pg.ListReconciliationRunsRequest())

    assert failure.value.code() == grpc.StatusCode.NOT_FOUND
    assert list(listed.runs) == []


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


async def test_only_the_invoices_asked_for_are_read(on_chain, chain, tron, devnet_accounts):
    asked, other = await new_invoice(on_chain), await new_invoice(on_chain)
    for invoice in (asked, other):
        await pay_usdt(tron, chain, devnet_accounts[0], invoice.deposit_address, AMOUNT)
    chain.produce_block()
    chain.solidify()

    run = (await on_chain.stub.ReconcileInvoices(pg.ReconcileInvoicesRequest(invoice_ids=[asked.invoice_id]))).run

    assert [(f.invoice_id, f.action) for f in run.fixes] == [(asked.invoice_id, pg.RECONCILIATION_ACTION_CREDITED)]
    assert run.invoices_checked == 1


async def test_a_seen_payment_whose_block_solidified_is_confirmed(
    on_chain, chain, tron, devnet_accounts, gateway_store
):
    invoice = await new_invoice(on_chain)
    txid = await pay_usdt(tron, chain, devnet_accounts[0], invoice.deposit_address, AMOUNT)
    block = chain.produce_block().number
    await seen_by_watcher(gateway_store, chain, invoice.invoice_id, txid, block)
    chain.solidify()

    run = await reconcile(on_chain)

    assert [(f.txid, f.log_index, f.action, f.amount_base_units) for f in run.fixes] == [
        (txid, 0, pg.RECONCILIATION_ACTION_CONFIRMED, AMOUNT)
    ]
    paid = (await on_chain.stub.GetInvoice(pg.GetInvoiceRequest(invoice_id=invoice.invoice_id))).invoice
    assert (paid.status, paid.paid_amount_base_units, paid.pending_amount_base_units) == (
        pg.INVOICE_STATUS_PAID, AMOUNT, 0
    )


async def test_a_seen_payment_whose_block_is_not_solidified_is_left_to_the_watcher(
    on_chain, chain, tron, devnet_accounts, gateway_store
):
    invoice = await new_invoice(on_chain)
    txid = await pay_usdt(tron, chain, devnet_accounts[0], invoice.deposit_address, AMOUNT)
    block = chain.produce_block().number
    await seen_by_watcher(gateway_store, chain, invoice.invoice_id, txid, block)

    run = await reconcile(on_chain)

    assert list(run.fixes) == []
    seen = (await on_chain.stub.GetInvoice(pg.GetInvoiceRequest(invoice_id=invoice.invoice_id))).invoice
    assert seen.status == pg.INVOICE_STATUS_CONFIRMING


async def test_a_seen_payment_dropped_by_a_reorg_is_reverted(on_chain, chain, tron, devnet_accounts, gateway_store):
    invoice = await new_invoice(on_chain)
    txid = await pay_usdt(tron, chain, devnet_accounts[0], invoice.deposit_address, AMOUNT)
    block = chain.produce_block().number
    await seen_by_watcher(gateway_store, chain, invoice.invoice_id, txid, block)
    assert chain.reorg(1, requeue=False) == [txid]
    chain.solidify()

    run = await reconcile(on_chain)

    assert [(f.txid, f.action) for f in run.fixes] == [(txid, pg.RECONCILIATION_ACTION_REVERTED)]
    reverted = (await on_chain.stub.GetInvoice(pg.GetInvoiceRequest(invoice_id=invoice.invoice_id))).invoice
    assert (reverted.status, reverted.pending_amount_base_units) == (pg.INVOICE_STATUS_PENDING, 0)
    assert [p.state for p in reverted.payments] == [pg.PAYMENT_STATE_REVERTED]


async def test_a_seen_payment_moved_by_a_reorg_is_reverted_and_credited_at_its_new_height(
    on_chain, chain, tron, devnet_accounts, gateway_store
):
    invoice = await new_invoice(on_chain)
    txid = await pay_usdt(tron, chain, devnet_accounts[0], invoice.deposit_address, AMOUNT)
    block = chain.produce_block().number
    await seen_by_watcher(gateway_store, chain, invoice.invoice_id, txid, block)
    assert chain.reorg(1, requeue=True) == [txid]
    chain.produce_block()  # the requeued transaction lands one block higher
    chain.solidify()

    run = await reconcile(on_chain)

    assert [(f.txid, f.action) for f in run.fixes] == [
        (txid, pg.RECONCILIATION_ACTION_REVERTED), (txid, pg.RECONCILIATION_ACTION_CREDITED)
    ]
    paid = (await on_chain.stub.GetInvoice(pg.GetInvoiceRequest(invoice_id=invoice.invoice_id))).invoice
    assert (paid.status, paid.paid_amount_base_units) == (pg.INVOICE_STATUS_PAID, AMOUNT)
    assert [p.block_number for p in paid.payments] == [block + 1]


async def test_the_scheduled_run_credits_a_missed_payment_without_being_asked(
    mongo_url, redis_url, tmp_path, chain, relay, tron, devnet_accounts
):
    async with chain_gateway(
        mongo_url, redis_url, tmp_path, chain, relay.server.address, reconcile_interval_s=1.0
    ) as served:
        invoice = await new_invoice(served)
        txid = await pay_usdt(tron, chain, devnet_accounts[0], invoice.deposit_address, AMOUNT)
        chain.produce_block()
        chain.solidify()

        status = pg.INVOICE_STATUS_PENDING
        for _ in range(300):
            status = (await served.stub.GetInvoice(pg.GetInvoiceRequest(invoice_id=invoice.invoice_id))).invoice.status
            if status == pg.INVOICE_STATUS_PAID:
                break
            await asyncio.sleep(0.1)
        for _ in range(50):  # the run records its fix a moment after committing it
            listed = await served.stub.ListReconciliationRuns(pg.ListReconciliationRunsRequest(page_size=500))
            if any(run.fixes for run in listed.runs):
                break
            await asyncio.sleep(0.1)

    assert status == pg.INVOICE_STATUS_PAID
    fixed = [(run.trigger, fix.txid, fix.action) for run in listed.runs for fix in run.fixes]
    assert fixed == [("schedule", txid, pg.RECONCILIATION_ACTION_CREDITED)]


async def test_concurrent_requests_run_one_after_the_other_and_credit_once(on_chain, chain, tron, devnet_accounts):
    invoice = await new_invoice(on_chain)
    txid = await pay_usdt(tron, chain, devnet_accounts[0], invoice.deposit_address, AMOUNT)
    chain.produce_block()
    chain.solidify()

    runs = await asyncio.gather(*(reconcile(on_chain) for _ in range(3)))

    assert [(f.txid, f.action) for run in runs for f in run.fixes] == [(txid, pg.RECONCILIATION_ACTION_CREDITED)]
    spans = sorted((run.start_time.ToNanoseconds(), run.end_time.ToNanoseconds()) for run in runs)
    assert all(ended <= next_start for (_, ended), (next_start, _) in zip(spans, spans[1:]))


@pytest.mark.parametrize("log_index", [-1, 0])
async def test_a_seen_trx_payment_is_confirmed_once_whatever_log_index_the_watcher_gave_it(
    on_chain, chain, tron, devnet_accounts, gateway_store, log_index
):
    invoice = (await on_chain.stub.CreateInvoice(create_request(asset=TRX, amount_base_units=AMOUNT))).invoice
    txid = await pay_trx(tron, devnet_accounts[0], invoice.deposit_address, AMOUNT)
    block = chain.produce_block().number
    await seen_by_watcher(gateway_store, chain, invoice.invoice_id, txid, block, log_index=log_index)
    chain.solidify()

    run = await reconcile(on_chain)

    assert [(f.txid, f.log_index, f.action) for f in run.fixes] == [
        (txid, log_index, pg.RECONCILIATION_ACTION_CONFIRMED)
    ]
    paid = (await on_chain.stub.GetInvoice(pg.GetInvoiceRequest(invoice_id=invoice.invoice_id))).invoice
    assert (paid.status, paid.paid_amount_base_units, len(paid.payments)) == (pg.INVOICE_STATUS_PAID, AMOUNT, 1)


async def expired_ago(store: PaymentGatewayStore, invoice_id: str, ago: timedelta) -> None:
    """Move the invoice's expiry `ago` into the past, as if it had been created with a 15-minute ttl that much
    earlier."""
    expire_at = datetime.now(UTC) - ago
    await store.collection("invoices").update_one(
        {"_id": invoice_id}, {"$set": {"expire_at": expire_at, "created_at": expire_at - timedelta(minutes=15)}}
    )


async def test_a_payment_after_expiry_inside_the_monitoring_window_is_credited_as_paid_late(
    on_chain, chain, tron, devnet_accounts, gateway_store
):
    invoice = await new_invoice(on_chain)
    await expired_ago(gateway_store, invoice.invoice_id, timedelta(minutes=1))
    await pay_usdt(tron, chain, devnet_accounts[0], invoice.deposit_address, AMOUNT)
    chain.produce_block()
    chain.solidify()

    run = await reconcile(on_chain)

    assert [f.action for f in run.fixes] == [pg.RECONCILIATION_ACTION_CREDITED]
    late = (await on_chain.stub.GetInvoice(pg.GetInvoiceRequest(invoice_id=invoice.invoice_id))).invoice
    assert (late.status, late.exception) == (pg.INVOICE_STATUS_PAID, pg.INVOICE_EXCEPTION_PAID_LATE)
    assert [p.after_expiration for p in late.payments] == [True]


async def test_a_payment_after_the_monitoring_window_is_not_credited(
    on_chain, chain, tron, devnet_accounts, gateway_store
):
    invoice = await new_invoice(on_chain)  # monitoring window: 1 hour
    await expired_ago(gateway_store, invoice.invoice_id, timedelta(hours=2))
    await pay_usdt(tron, chain, devnet_accounts[0], invoice.deposit_address, AMOUNT)
    chain.produce_block()
    chain.solidify()

    run = await reconcile(on_chain)

    assert list(run.fixes) == []
    unpaid = (await on_chain.stub.GetInvoice(pg.GetInvoiceRequest(invoice_id=invoice.invoice_id))).invoice
    assert (unpaid.paid_amount_base_units, list(unpaid.payments)) == (0, [])


async def test_closed_invoices_are_read_only_for_the_lookback(mongo_url, redis_url, tmp_path, chain, relay):
    async with chain_gateway(
        mongo_url, redis_url, tmp_path, chain, relay.server.address, reconcile_lookback_s=0.0
    ) as served:
        cancelled = await new_invoice(served)
        await new_invoice(served)  # open: always read
        await served.stub.CancelInvoice(pg.CancelInvoiceRequest(invoice_id=cancelled.invoice_id))

        run = await reconcile(served)

    assert run.invoices_checked == 1

"""ReconcileInvoices on devnet, with payments made by unmodified tronpy while no chain watcher runs: final payments
are credited and recorded as fixes, once (made from inside another contract too, in parts, or too much); lookalike
tokens, poisoning dust and unsolidified payments are not."""

from __future__ import annotations

import grpc
import pytest

from integration.payment_gateway.gateway_kit import TRX, Gateway, create_request
from integration.payment_gateway.reconcile_kit import (
    call_contract, chain, on_chain, pay_token, pay_trx, pay_usdt, relay, tron,
)
from lucid.tron.v1 import payment_gateway_pb2 as pg

#: Fixtures of reconcile_kit, used by name.
__all__ = ["chain", "on_chain", "relay", "tron"]

AMOUNT = 12_500_000


async def new_invoice(on_chain: Gateway, **fields) -> pg.Invoice:
    fields.setdefault("amount_base_units", AMOUNT)
    return (await on_chain.stub.CreateInvoice(create_request(**fields))).invoice


async def reconcile(on_chain: Gateway, *invoice_ids: str) -> pg.ReconciliationRun:
    return (await on_chain.stub.ReconcileInvoices(pg.ReconcileInvoicesRequest(invoice_ids=invoice_ids))).run


async def invoice_now(on_chain: Gateway, invoice_id: str) -> pg.Invoice:
    return (await on_chain.stub.GetInvoice(pg.GetInvoiceRequest(invoice_id=invoice_id))).invoice


def fixes(run: pg.ReconciliationRun) -> list[tuple[str, str, int, int, int]]:
    return [(f.invoice_id, f.txid, f.log_index, f.action, f.amount_base_units) for f in run.fixes]


async def test_a_usdt_payment_made_while_nothing_watched_is_credited_with_a_credited_fix(
    on_chain, chain, tron, devnet_accounts
):
    invoice = await new_invoice(on_chain)
    txid = await pay_usdt(tron, chain, devnet_accounts[0], invoice.deposit_address, AMOUNT)
    chain.produce_block()
    chain.solidify()

    run = await reconcile(on_chain)

    assert fixes(run) == [(invoice.invoice_id, txid, 0, pg.RECONCILIATION_ACTION_CREDITED, AMOUNT)]
    assert run.trigger == "request" and run.error == "" and run.invoices_checked == 1
    assert run.end_time.ToDatetime() >= run.start_time.ToDatetime()
    paid = await invoice_now(on_chain, invoice.invoice_id)
    assert (paid.status, paid.exception, paid.paid_amount_base_units) == (
        pg.INVOICE_STATUS_PAID, pg.INVOICE_EXCEPTION_NONE, AMOUNT
    )
    assert [(p.txid, p.state, p.from_address) for p in paid.payments] == [
        (txid, pg.PAYMENT_STATE_CREDITED, devnet_accounts[0].address)
    ]


async def test_a_trx_payment_is_credited_under_log_index_minus_one(on_chain, chain, tron, devnet_accounts):
    invoice = await new_invoice(on_chain, asset=TRX, amount_base_units=3_000_000)
    txid = await pay_trx(tron, devnet_accounts[1], invoice.deposit_address, 3_000_000)
    chain.produce_block()
    chain.solidify()

    run = await reconcile(on_chain)

    assert fixes(run) == [(invoice.invoice_id, txid, -1, pg.RECONCILIATION_ACTION_CREDITED, 3_000_000)]
    assert (await invoice_now(on_chain, invoice.invoice_id)).status == pg.INVOICE_STATUS_PAID


async def test_a_second_run_fixes_nothing(on_chain, chain, tron, devnet_accounts):
    invoice = await new_invoice(on_chain)
    await pay_usdt(tron, chain, devnet_accounts[0], invoice.deposit_address, AMOUNT)
    chain.produce_block()
    chain.solidify()
    first = await reconcile(on_chain)
    sequence = (await invoice_now(on_chain, invoice.invoice_id)).sequence

    second = await reconcile(on_chain)

    assert len(first.fixes) == 1
    assert list(second.fixes) == [] and second.error == ""
    assert (await invoice_now(on_chain, invoice.invoice_id)).sequence == sequence


async def test_an_unsolidified_payment_is_not_credited(on_chain, chain, tron, devnet_accounts):
    invoice = await new_invoice(on_chain)
    await pay_usdt(tron, chain, devnet_accounts[0], invoice.deposit_address, AMOUNT)
    chain.produce_blocks(3)

    run = await reconcile(on_chain)

    assert list(run.fixes) == []
    unpaid = await invoice_now(on_chain, invoice.invoice_id)
    assert (unpaid.status, unpaid.paid_amount_base_units, list(unpaid.payments)) == (pg.INVOICE_STATUS_PENDING, 0, [])


async def test_a_lookalike_token_payment_is_not_credited(on_chain, chain, tron, devnet_accounts):
    payer = devnet_accounts[2]
    chain.fund(payer.address, lookalike_units=AMOUNT)
    invoice = await new_invoice(on_chain)
    await pay_token(tron, chain.lookalike_address, payer, invoice.deposit_address, AMOUNT)
    chain.produce_block()
    chain.solidify()

    run = await reconcile(on_chain)

    assert chain.lookalike_balance(invoice.deposit_address, solidified=True) == AMOUNT
    assert list(run.fixes) == []
    assert (await invoice_now(on_chain, invoice.invoice_id)).status == pg.INVOICE_STATUS_PENDING


async def test_address_poisoning_dust_is_not_credited(on_chain, chain, devnet_accounts):
    invoice = await new_invoice(on_chain)
    # A zero-value USDT transferFrom, one base unit of real USDT and lookalike tokens, from a lookalike of the payer.
    poisoning = chain.poison(invoice.deposit_address, devnet_accounts[0].address, dust_units=1, fake_units=AMOUNT)
    chain.produce_block()
    chain.solidify()

    run = await reconcile(on_chain)

    assert len(poisoning.txids) == 3
    assert chain.usdt_balance(invoice.deposit_address, solidified=True) == 1
    assert list(run.fixes) == []
    unpaid = await invoice_now(on_chain, invoice.invoice_id)
    assert (unpaid.status, unpaid.exception, list(unpaid.payments)) == (
        pg.INVOICE_STATUS_PENDING, pg.INVOICE_EXCEPTION_NONE, []
    )



async def test_usdt_paid_from_inside_another_contract_is_credited(on_chain, chain, tron, devnet_accounts):
    payer = devnet_accounts[0]
    invoice = await new_invoice(on_chain)
    await call_contract(tron, chain.usdt_address, payer, "approve", chain.forwarder_address, AMOUNT)
    chain.produce_block()
    txid = await call_contract(
        tron, chain.forwarder_address, payer, "forward", chain.usdt_address, invoice.deposit_address, AMOUNT
    )
    chain.produce_block()
    chain.solidify()

    run = await reconcile(on_chain)

    assert [(f.txid, f.action, f.amount_base_units) for f in run.fixes] == [
        (txid, pg.RECONCILIATION_ACTION_CREDITED, AMOUNT)
    ]
    assert (await invoice_now(on_chain, invoice.invoice_id)).status == pg.INVOICE_STATUS_PAID


async def test_two_payments_to_one_invoice_are_each_credited_once(on_chain, chain, tron, devnet_accounts):
    invoice = await new_invoice(on_chain)
    first = await pay_usdt(tron, chain, devnet_accounts[0], invoice.deposit_address, 5_000_000)
    chain.produce_block()
    second = await pay_usdt(tron, chain, devnet_accounts[1], invoice.deposit_address, 7_500_000)
    chain.produce_block()
    chain.solidify()

    run = await reconcile(on_chain)
    again = await reconcile(on_chain)

    assert [(f.txid, f.action) for f in run.fixes] == [
        (first, pg.RECONCILIATION_ACTION_CREDITED), (second, pg.RECONCILIATION_ACTION_CREDITED)
    ]
    assert list(again.fixes) == []
    paid = await invoice_now(on_chain, invoice.invoice_id)
    assert (paid.status, paid.exception, paid.paid_amount_base_units) == (
        pg.INVOICE_STATUS_PAID, pg.INVOICE_EXCEPTION_NONE, AMOUNT
    )


async def test_an_underpayment_is_credited_as_partial(on_chain, chain, tron, devnet_accounts):
    invoice = await new_invoice(on_chain)
    await pay_usdt(tron, chain, devnet_accounts[0], invoice.deposit_address, AMOUNT - 1_000_000)
    chain.produce_block()
    chain.solidify()

    run = await reconcile(on_chain)

    assert [f.action for f in run.fixes] == [pg.RECONCILIATION_ACTION_CREDITED]
    partial = await invoice_now(on_chain, invoice.invoice_id)
    assert (partial.status, partial.exception, partial.paid_amount_base_units) == (
        pg.INVOICE_STATUS_PENDING, pg.INVOICE_EXCEPTION_PAID_PARTIAL, AMOUNT - 1_000_000
    )


async def test_an_overpayment_is_credited_as_paid_over(on_chain, chain, tron, devnet_accounts):
    invoice = await new_invoice(on_chain)
    await pay_usdt(tron, chain, devnet_accounts[0], invoice.deposit_address, AMOUNT + 1_000_000)
    chain.produce_block()
    chain.solidify()

    await reconcile(on_chain)

    paid = await invoice_now(on_chain, invoice.invoice_id)
    assert (paid.status, paid.exception, paid.paid_amount_base_units) == (
        pg.INVOICE_STATUS_PAID, pg.INVOICE_EXCEPTION_PAID_OVER, AMOUNT + 1_000_000
    )


async def test_a_throttled_trongrid_stops_the_run_early_and_the_next_run_credits(
    on_chain, chain, tron, devnet_accounts
):
    invoice = await new_invoice(on_chain)
    txid = await pay_usdt(tron, chain, devnet_accounts[0], invoice.deposit_address, AMOUNT)
    chain.produce_block()
    chain.solidify()
    chain.faults.add(status=429)

    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await on_chain.stub.ReconcileInvoices(pg.ReconcileInvoicesRequest(), timeout=30)
    chain.faults.clear()
    after = await reconcile(on_chain)

    assert failure.value.code() == grpc.StatusCode.UNAVAILABLE
    assert (await invoice_now(on_chain, invoice.invoice_id)).paid_amount_base_units == AMOUNT
    assert [(f.txid, f.action) for f in after.fixes] == [(txid, pg.RECONCILIATION_ACTION_CREDITED)]
    [_, stopped] = (await on_chain.stub.ListReconciliationRuns(pg.ListReconciliationRunsRequest())).runs
    assert stopped.error and list(stopped.fixes) == []

"""The chain watcher on devnet (a block every 0.3 s, solidified 5 blocks behind), payments made by unmodified tronpy:
what it credits (exact, under, over, late, two payments, USDT moved from inside a contract, TRX) and what it never
does (a lookalike token, address-poisoning dust). Block scanning throughout (threshold 1)."""

from __future__ import annotations

from integration.payment_gateway.gateway_kit import TRX, USDT, Gateway
from integration.payment_gateway.watcher_kit import (
    SOLIDIFICATION_LAG,
    ChainBench,
    bench,  # noqa: F401 - a fixture
    create_invoice,
    event_types,
    eventually,
    expire_in,
    invoice_now,
    is_paid,
    until,
    watcher_cursor,
    watching,  # noqa: F401 - a fixture
)
from lucid.tron.v1 import events_pb2 as ev, payment_gateway_pb2 as pg

CREDITED = pg.PAYMENT_STATE_CREDITED


async def processed_through(bench: ChainBench, running: Gateway, mongo_url: str, block: int) -> None:
    """Wait until the watcher's cursor (solidified, processed for good) has passed `block`."""

    async def passed() -> bool:
        cursor = await watcher_cursor(mongo_url, running.database)
        return cursor is not None and cursor["block"] >= block

    await eventually(passed)


async def test_an_exact_usdt_payment_is_seen_at_head_then_paid_once_solidified(
    bench: ChainBench, watching: Gateway, devnet_accounts
) -> None:
    invoice = await create_invoice(watching, asset=USDT, amount_base_units=12_500_000)

    txid = await bench.pay_usdt(devnet_accounts[0], invoice.deposit_address, 12_500_000)
    seen = await until(watching, invoice.invoice_id, lambda i: i.status == pg.INVOICE_STATUS_CONFIRMING)
    head_at_seen = bench.devnet.head_number
    paid = await until(watching, invoice.invoice_id, is_paid)
    head_at_paid = bench.devnet.head_number

    [payment] = paid.payments
    assert (payment.txid, payment.log_index, payment.amount_base_units) == (txid, 0, 12_500_000)
    assert payment.from_address == devnet_accounts[0].address and payment.state == CREDITED
    assert seen.pending_amount_base_units == 12_500_000 and seen.paid_amount_base_units == 0
    assert (paid.exception, paid.paid_amount_base_units, paid.pending_amount_base_units) == (
        pg.INVOICE_EXCEPTION_NONE, 12_500_000, 0,
    )  # fmt: skip
    assert await event_types(watching, invoice.invoice_id) == [
        ev.EVENT_TYPE_INVOICE_CREATED, ev.EVENT_TYPE_INVOICE_PAYMENT_SEEN, ev.EVENT_TYPE_INVOICE_PAID,
    ]  # fmt: skip
    # Measured, not asserted (a loaded machine): blocks from inclusion to SEEN, from solidification to PAID.
    print(f"\nwatcher latency: SEEN {head_at_seen - payment.block_number} blocks after inclusion, PAID "
          f"{head_at_paid - payment.block_number - SOLIDIFICATION_LAG} blocks after solidification")


async def test_an_exact_trx_payment_is_paid(bench: ChainBench, watching: Gateway, devnet_accounts) -> None:
    invoice = await create_invoice(watching, asset=TRX, amount_base_units=3_000_000)

    txid = await bench.pay_trx(devnet_accounts[1], invoice.deposit_address, 3_000_000)
    paid = await until(watching, invoice.invoice_id, is_paid)

    [payment] = paid.payments
    assert (payment.txid, payment.log_index, payment.amount_base_units) == (txid, -1, 3_000_000)
    assert (paid.exception, paid.paid_amount_base_units) == (pg.INVOICE_EXCEPTION_NONE, 3_000_000)


async def test_an_underpayment_is_credited_and_leaves_the_invoice_pending_partly_paid(
    bench: ChainBench, watching: Gateway, devnet_accounts
) -> None:
    invoice = await create_invoice(watching, asset=USDT, amount_base_units=10_000_000)

    await bench.pay_usdt(devnet_accounts[0], invoice.deposit_address, 4_000_000)
    partial = await until(watching, invoice.invoice_id, lambda i: i.exception == pg.INVOICE_EXCEPTION_PAID_PARTIAL)

    assert (partial.status, partial.paid_amount_base_units, partial.pending_amount_base_units) == (
        pg.INVOICE_STATUS_PENDING, 4_000_000, 0,
    )  # fmt: skip
    assert [p.state for p in partial.payments] == [CREDITED]


async def test_an_overpayment_is_paid_over(bench: ChainBench, watching: Gateway, devnet_accounts) -> None:
    invoice = await create_invoice(watching, asset=USDT, amount_base_units=2_000_000)

    await bench.pay_usdt(devnet_accounts[0], invoice.deposit_address, 2_500_000)
    paid = await until(watching, invoice.invoice_id, is_paid)

    assert (paid.exception, paid.paid_amount_base_units) == (pg.INVOICE_EXCEPTION_PAID_OVER, 2_500_000)


async def test_two_payments_that_add_up_pay_the_invoice_each_credited_once(
    bench: ChainBench, watching: Gateway, devnet_accounts
) -> None:
    invoice = await create_invoice(watching, asset=USDT, amount_base_units=9_000_000)

    first = await bench.pay_usdt(devnet_accounts[0], invoice.deposit_address, 6_000_000)
    await until(watching, invoice.invoice_id, lambda i: i.paid_amount_base_units == 6_000_000)
    second = await bench.pay_usdt(devnet_accounts[1], invoice.deposit_address, 3_000_000)
    paid = await until(watching, invoice.invoice_id, is_paid)

    assert sorted((p.txid, p.amount_base_units, p.state) for p in paid.payments) == sorted(
        [(first, 6_000_000, CREDITED), (second, 3_000_000, CREDITED)]
    )
    assert (paid.exception, paid.paid_amount_base_units) == (pg.INVOICE_EXCEPTION_NONE, 9_000_000)


async def test_a_payment_in_a_block_after_expiry_is_paid_late(
    bench: ChainBench, watching: Gateway, mongo_url: str, devnet_accounts
) -> None:
    invoice = await create_invoice(watching, asset=USDT, amount_base_units=1_000_000)
    await expire_in(mongo_url, watching.database, invoice.invoice_id, 0.5)
    await until(watching, invoice.invoice_id, lambda i: i.status == pg.INVOICE_STATUS_EXPIRED)

    await bench.pay_usdt(devnet_accounts[0], invoice.deposit_address, 1_000_000)
    paid = await until(watching, invoice.invoice_id, is_paid)

    assert paid.exception == pg.INVOICE_EXCEPTION_PAID_LATE
    assert [p.after_expiration for p in paid.payments] == [True]
    assert (await event_types(watching, invoice.invoice_id))[-1] == ev.EVENT_TYPE_INVOICE_PAID_LATE


async def test_usdt_moved_by_another_contract_pays_the_invoice(
    bench: ChainBench, watching: Gateway, devnet_accounts
) -> None:
    invoice = await create_invoice(watching, asset=USDT, amount_base_units=1_500_000)

    txid = await bench.pay_through_forwarder(devnet_accounts[2], invoice.deposit_address, 1_500_000)
    paid = await until(watching, invoice.invoice_id, is_paid)

    [payment] = paid.payments
    assert (payment.txid, payment.from_address, payment.amount_base_units) == (
        txid, devnet_accounts[2].address, 1_500_000,
    )  # fmt: skip


async def test_a_lookalike_token_payment_is_ignored(
    bench: ChainBench, watching: Gateway, mongo_url: str, devnet_accounts
) -> None:
    invoice = await create_invoice(watching, asset=USDT, amount_base_units=5_000_000)

    txid = await bench.pay_lookalike(devnet_accounts[1], invoice.deposit_address, 5_000_000)
    await processed_through(bench, watching, mongo_url, await bench.block_of(txid))

    assert bench.devnet.lookalike_balance(invoice.deposit_address) == 5_000_000
    now = await invoice_now(watching, invoice.invoice_id)
    assert (now.status, len(now.payments), now.paid_amount_base_units) == (pg.INVOICE_STATUS_PENDING, 0, 0)


async def test_address_poisoning_dust_is_ignored_and_the_real_payment_alone_pays(
    bench: ChainBench, watching: Gateway, mongo_url: str, devnet_accounts
) -> None:
    invoice = await create_invoice(watching, asset=USDT, amount_base_units=2_000_000)

    poisoning = bench.devnet.poison(invoice.deposit_address, devnet_accounts[0].address, zero_value=True, dust_units=1)
    await processed_through(bench, watching, mongo_url, max([await bench.block_of(t) for t in poisoning.txids]))
    assert bench.devnet.usdt_balance(invoice.deposit_address) == 1  # the dust did land
    untouched = await invoice_now(watching, invoice.invoice_id)
    txid = await bench.pay_usdt(devnet_accounts[0], invoice.deposit_address, 2_000_000)
    paid = await until(watching, invoice.invoice_id, is_paid)

    assert (untouched.status, len(untouched.payments)) == (pg.INVOICE_STATUS_PENDING, 0)
    assert [(p.txid, p.amount_base_units) for p in paid.payments] == [(txid, 2_000_000)]
    assert (paid.exception, paid.paid_amount_base_units) == (pg.INVOICE_EXCEPTION_NONE, 2_000_000)

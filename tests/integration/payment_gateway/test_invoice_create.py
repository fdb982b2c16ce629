"""CreateInvoice over real gRPC: a fresh derived deposit address per invoice (derived in batches ahead of need),
idempotent on request_id, and nothing created when wallet-manager or MongoDB cannot be reached."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from google.protobuf import duration_pb2

from integration.payment_gateway.gateway_kit import NOBODY, TRX, USDT, Gateway, create_request, gateway
from lucid.tron.v1 import payment_gateway_pb2 as pg
from lucid.tron.v1 import wallet_pb2
from lucid_tron.chain import is_address
from lucid_tron.testing import free_port


async def test_an_invoice_gets_a_fresh_address_derived_by_wallet_manager(running: Gateway) -> None:
    first = (await running.stub.CreateInvoice(create_request())).invoice
    second = (await running.stub.CreateInvoice(create_request())).invoice

    derived = await running.wallet.stub.ListAddresses(wallet_pb2.ListAddressesRequest(wallet_id=running.wallet_id))
    index_of = {address.address: address.index for address in derived.addresses}
    # Index 0 is the wallet's first address, derived when it was created; the invoices take the next ones in order.
    assert (index_of[first.deposit_address], index_of[second.deposit_address]) == (1, 2)
    assert is_address(first.deposit_address) and first.deposit_address != second.deposit_address


async def test_deposit_addresses_are_derived_a_batch_at_a_time_ahead_of_need(
    mongo_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with gateway(mongo_url, redis_url, tmp_path, deposit_address_batch=2) as running:
        invoices = [(await running.stub.CreateInvoice(create_request())).invoice for _ in range(3)]
        derived = await running.wallet.stub.ListAddresses(wallet_pb2.ListAddressesRequest(wallet_id=running.wallet_id))

    # Two batches of two: the first on the first invoice, the second when the pool ran below half a batch.
    assert [address.index for address in derived.addresses] == [0, 1, 2, 3, 4]
    assert [invoice.deposit_address for invoice in invoices] == [a.address for a in derived.addresses[1:4]]


async def test_an_invoice_shows_what_a_checkout_needs(running: Gateway) -> None:
    invoice = (await running.stub.CreateInvoice(create_request(
        asset=USDT, amount_base_units=12_500_000, ttl=duration_pb2.Duration(seconds=600), order_id="order-7",
        metadata={"cart": "3 items"}, description="three items", tolerance_bps=50,
    ))).invoice

    assert invoice.invoice_id.startswith("inv_")
    assert invoice.status == pg.INVOICE_STATUS_PENDING and invoice.exception == pg.INVOICE_EXCEPTION_NONE
    assert (invoice.total_decimal, invoice.token, invoice.network) == ("12.500000", "USDT", "devnet")
    assert invoice.token_contract and invoice.order_id == "order-7" and dict(invoice.metadata) == {"cart": "3 items"}
    lifetime = invoice.expire_time.ToSeconds() - invoice.create_time.ToSeconds()
    assert 599 <= lifetime <= 601
    assert (invoice.tolerance_bps, invoice.monitoring_window.seconds, invoice.sequence) == (50, 3600, 1)


async def test_a_trx_invoice_has_no_token_contract(running: Gateway) -> None:
    invoice = (await running.stub.CreateInvoice(create_request(asset=TRX, amount_base_units=1))).invoice

    assert (invoice.token, invoice.token_contract, invoice.total_decimal) == ("TRX", "", "0.000001")


async def test_a_retry_with_the_same_request_id_returns_the_same_invoice(running: Gateway) -> None:
    request = create_request()
    first = (await running.stub.CreateInvoice(request)).invoice
    again = (await running.stub.CreateInvoice(request)).invoice

    assert again == first
    listed = await running.stub.ListInvoices(pg.ListInvoicesRequest())
    assert [i.invoice_id for i in listed.invoices] == [first.invoice_id]


async def test_a_request_id_reused_for_another_invoice_is_refused(running: Gateway) -> None:
    request = create_request()
    await running.stub.CreateInvoice(request)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.stub.CreateInvoice(create_request(request_id=request.request_id, amount_base_units=1))

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "request_id" in refused.value.details()


async def test_wallet_manager_down_is_unavailable_and_creates_nothing(
    mongo_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with gateway(mongo_url, redis_url, tmp_path, wallet_addr=NOBODY) as running:
        request = create_request()
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await running.stub.CreateInvoice(request, timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert not (await running.stub.ListInvoices(pg.ListInvoicesRequest())).invoices


async def test_a_retry_while_wallet_manager_is_down_is_unavailable_again_not_in_flight(
    mongo_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with gateway(mongo_url, redis_url, tmp_path, wallet_addr=NOBODY) as running:
        request = create_request()
        codes = []
        for _ in range(2):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await running.stub.CreateInvoice(request, timeout=10)
            codes.append(refused.value.code())

    assert codes == [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE]


async def test_mongodb_down_is_unavailable(mongo_url: str, redis_url: str, tmp_path: Path) -> None:
    down = f"mongodb://127.0.0.1:{free_port()}/?directConnection=true"
    async with gateway(mongo_url, redis_url, tmp_path, gateway_mongo_url=down) as running:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await running.stub.CreateInvoice(create_request(), timeout=15)

    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_without_a_payment_wallet_configured_create_is_a_failed_precondition(
    mongo_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with gateway(mongo_url, redis_url, tmp_path, payment_wallet_id="") as running:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await running.stub.CreateInvoice(create_request())

    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "PAYMENT_WALLET_ID" in refused.value.details()

"""Reading and changing invoices over real gRPC: lists filtered and paged, cancel, mark with an etag, the events
committed with each change, and the expiry job."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf import duration_pb2
from pymongo import AsyncMongoClient

from integration.payment_gateway.gateway_kit import TRX, USDT, Gateway, create_request, gateway
from lucid.tron.v1 import events_pb2, payment_gateway_pb2 as pg
from lucid_tron.testing import free_port


async def _create(running: Gateway, **fields: object) -> pg.Invoice:
    return (await running.stub.CreateInvoice(create_request(**fields))).invoice


async def test_list_filters_by_order_id_asset_and_status(running: Gateway) -> None:
    usdt = await _create(running, order_id="A", asset=USDT)
    trx = await _create(running, order_id="A", asset=TRX)
    await _create(running, order_id="B")
    await running.stub.CancelInvoice(pg.CancelInvoiceRequest(invoice_id=trx.invoice_id))

    by_order = await running.stub.ListInvoices(pg.ListInvoicesRequest(order_id="A"))
    by_asset = await running.stub.ListInvoices(pg.ListInvoicesRequest(order_id="A", asset=USDT))
    cancelled = await running.stub.ListInvoices(pg.ListInvoicesRequest(statuses=[pg.INVOICE_STATUS_CANCELLED]))

    assert [i.invoice_id for i in by_order.invoices] == [trx.invoice_id, usdt.invoice_id]
    assert [i.invoice_id for i in by_asset.invoices] == [usdt.invoice_id]
    assert [i.invoice_id for i in cancelled.invoices] == [trx.invoice_id]


async def test_list_filters_by_creation_time(running: Gateway) -> None:
    older = await _create(running)
    await asyncio.sleep(0.05)
    newer = await _create(running)

    since = await running.stub.ListInvoices(pg.ListInvoicesRequest(create_time_from=newer.create_time))
    before = await running.stub.ListInvoices(pg.ListInvoicesRequest(create_time_to=newer.create_time))

    assert [i.invoice_id for i in since.invoices] == [newer.invoice_id]
    assert [i.invoice_id for i in before.invoices] == [older.invoice_id]


async def test_list_pages_newest_first_without_gaps_or_repeats(running: Gateway) -> None:
    created = [(await _create(running)).invoice_id for _ in range(5)]
    seen: list[str] = []
    token = ""
    while True:
        page = await running.stub.ListInvoices(pg.ListInvoicesRequest(page_size=2, page_token=token))
        seen += [i.invoice_id for i in page.invoices]
        token = page.next_page_token
        if not token:
            break

    assert seen == created[::-1]


async def test_cancel_makes_a_pending_invoice_cancelled_and_is_idempotent(running: Gateway) -> None:
    invoice = await _create(running)
    cancelled = (await running.stub.CancelInvoice(pg.CancelInvoiceRequest(invoice_id=invoice.invoice_id))).invoice
    again = (await running.stub.CancelInvoice(pg.CancelInvoiceRequest(invoice_id=invoice.invoice_id))).invoice

    assert cancelled.status == pg.INVOICE_STATUS_CANCELLED and cancelled.sequence == 2
    assert again == cancelled


async def test_a_paid_invoice_cannot_be_cancelled(running: Gateway) -> None:
    invoice = await _create(running)
    await running.stub.MarkInvoice(pg.MarkInvoiceRequest(
        invoice_id=invoice.invoice_id, mark=pg.INVOICE_MARK_PAID, reason="paid by bank transfer"))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.stub.CancelInvoice(pg.CancelInvoiceRequest(invoice_id=invoice.invoice_id))

    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_mark_settles_by_hand_with_the_current_etag(running: Gateway) -> None:
    invoice = await _create(running)
    marked = (await running.stub.MarkInvoice(pg.MarkInvoiceRequest(
        invoice_id=invoice.invoice_id, mark=pg.INVOICE_MARK_PAID, reason="paid by bank transfer", etag=invoice.etag,
    ))).invoice

    assert (marked.status, marked.exception) == (pg.INVOICE_STATUS_PAID, pg.INVOICE_EXCEPTION_MARKED)
    assert marked.etag != invoice.etag
    events = await running.stub.ListInvoiceEvents(pg.ListInvoiceEventsRequest(invoice_id=invoice.invoice_id))
    assert events.events[-1].type == events_pb2.EVENT_TYPE_INVOICE_PAID
    assert events.events[-1].reason == "paid by bank transfer"


async def test_mark_with_a_stale_etag_is_aborted_and_changes_nothing(running: Gateway) -> None:
    invoice = await _create(running)
    await running.stub.MarkInvoice(pg.MarkInvoiceRequest(
        invoice_id=invoice.invoice_id, mark=pg.INVOICE_MARK_INVALID, reason="fraud"))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.stub.MarkInvoice(pg.MarkInvoiceRequest(
            invoice_id=invoice.invoice_id, mark=pg.INVOICE_MARK_PAID, reason="oops", etag=invoice.etag))

    assert refused.value.code() == grpc.StatusCode.ABORTED
    now = (await running.stub.GetInvoice(pg.GetInvoiceRequest(invoice_id=invoice.invoice_id))).invoice
    assert now.status == pg.INVOICE_STATUS_INVALID


async def test_an_unknown_invoice_is_not_found(running: Gateway) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.stub.GetInvoice(pg.GetInvoiceRequest(invoice_id="inv_" + "0" * 24))

    assert refused.value.code() == grpc.StatusCode.NOT_FOUND


async def test_events_are_numbered_without_gaps_and_paged(running: Gateway) -> None:
    invoice = await _create(running)
    await running.stub.MarkInvoice(pg.MarkInvoiceRequest(
        invoice_id=invoice.invoice_id, mark=pg.INVOICE_MARK_INVALID, reason="fraud"))
    await running.stub.MarkInvoice(pg.MarkInvoiceRequest(
        invoice_id=invoice.invoice_id, mark=pg.INVOICE_MARK_PAID, reason="not fraud after all"))

    first = await running.stub.ListInvoiceEvents(pg.ListInvoiceEventsRequest(invoice_id=invoice.invoice_id,
                                                                             page_size=2))
    rest = await running.stub.ListInvoiceEvents(pg.ListInvoiceEventsRequest(
        invoice_id=invoice.invoice_id, page_size=2, page_token=first.next_page_token))

    events = [*first.events, *rest.events]
    assert [e.sequence for e in events] == [1, 2, 3] and not rest.next_page_token
    assert [e.type for e in events] == [
        events_pb2.EVENT_TYPE_INVOICE_CREATED,
        events_pb2.EVENT_TYPE_INVOICE_INVALID,
        events_pb2.EVENT_TYPE_INVOICE_PAID,
    ]
    assert {e.subject for e in events} == {f"invoice/{invoice.invoice_id}"}
    assert events[2].data["status"] == "PAID" and events[2].data["amount_base_units"] == "12500000"


async def test_watch_sends_the_invoice_then_each_event_as_it_commits(running: Gateway) -> None:
    invoice = await _create(running)
    stream = running.stub.WatchInvoice(pg.WatchInvoiceRequest(invoice_id=invoice.invoice_id), timeout=20)
    iterator = stream.__aiter__()

    first = await iterator.__anext__()
    created = await iterator.__anext__()
    await running.stub.CancelInvoice(pg.CancelInvoiceRequest(invoice_id=invoice.invoice_id, reason="changed my mind"))
    cancelled = await asyncio.wait_for(iterator.__anext__(), 5)
    stream.cancel()

    assert first.invoice.invoice_id == invoice.invoice_id
    assert (created.event.sequence, created.event.type) == (1, events_pb2.EVENT_TYPE_INVOICE_CREATED)
    assert (cancelled.event.sequence, cancelled.event.type) == (2, events_pb2.EVENT_TYPE_INVOICE_CANCELLED)
    assert cancelled.event.reason == "changed my mind"


async def test_a_watch_outlives_the_services_call_timeout(mongo_url: str, redis_url: str, tmp_path: Path) -> None:
    # CALL_TIMEOUT_S bounds a unary call without a caller's deadline; a watch lasts as long as its caller wants.
    async with gateway(mongo_url, redis_url, tmp_path, call_timeout_s=0.5) as running:
        invoice = await _create(running)
        stream = running.stub.WatchInvoice(pg.WatchInvoiceRequest(invoice_id=invoice.invoice_id))
        iterator = stream.__aiter__()
        await iterator.__anext__()
        await iterator.__anext__()
        await asyncio.sleep(2.5)  # five call timeouts, several of the stream's MongoDB polls
        await running.stub.CancelInvoice(pg.CancelInvoiceRequest(invoice_id=invoice.invoice_id))
        cancelled = await asyncio.wait_for(iterator.__anext__(), 5)
        stream.cancel()

    assert (cancelled.event.sequence, cancelled.event.type) == (2, events_pb2.EVENT_TYPE_INVOICE_CANCELLED)


async def test_watch_resumes_after_a_sequence(running: Gateway) -> None:
    invoice = await _create(running)
    await running.stub.CancelInvoice(pg.CancelInvoiceRequest(invoice_id=invoice.invoice_id))
    stream = running.stub.WatchInvoice(pg.WatchInvoiceRequest(invoice_id=invoice.invoice_id, after_sequence=1),
                                       timeout=20)
    iterator = stream.__aiter__()

    first = await iterator.__anext__()
    resumed = await iterator.__anext__()
    stream.cancel()

    assert first.invoice.status == pg.INVOICE_STATUS_CANCELLED
    assert resumed.event.sequence == 2


async def test_a_pending_invoice_expires_after_its_expiry(mongo_url: str, redis_url: str, tmp_path: Path) -> None:
    async with gateway(mongo_url, redis_url, tmp_path, invoice_expiry_interval_s=0.1) as running:
        invoice = await _create(running, ttl=duration_pb2.Duration(seconds=120))
        # The API refuses expiries under a minute away; the test moves this one into the past in the database
        # instead of waiting. Expiry follows the chain watcher's clock: with no chain here, its cursor is set to now.
        async with AsyncMongoClient(mongo_url, tz_aware=True) as client:
            await client[running.database]["invoices"].update_one(
                {"_id": invoice.invoice_id}, {"$set": {"expire_at": datetime.now(UTC) - timedelta(seconds=1)}}
            )
            await client[running.database]["watcher_cursor"].insert_one(
                {"_id": "chain-watcher", "block": 1, "time": datetime.now(UTC), "scanned_head": 1}
            )
        stream = running.stub.WatchInvoice(pg.WatchInvoiceRequest(invoice_id=invoice.invoice_id, after_sequence=1),
                                           timeout=20)
        iterator = stream.__aiter__()
        await iterator.__anext__()
        expired = await asyncio.wait_for(iterator.__anext__(), 10)
        stream.cancel()
        now = (await running.stub.GetInvoice(pg.GetInvoiceRequest(invoice_id=invoice.invoice_id))).invoice

    assert (expired.event.sequence, expired.event.type) == (2, events_pb2.EVENT_TYPE_INVOICE_EXPIRED)
    assert now.status == pg.INVOICE_STATUS_EXPIRED


async def test_an_invoice_not_yet_due_does_not_expire(mongo_url: str, redis_url: str, tmp_path: Path) -> None:
    async with gateway(mongo_url, redis_url, tmp_path, invoice_expiry_interval_s=0.1) as running:
        invoice = await _create(running, ttl=duration_pb2.Duration(seconds=120))
        await asyncio.sleep(0.5)
        now = (await running.stub.GetInvoice(pg.GetInvoiceRequest(invoice_id=invoice.invoice_id))).invoice

    assert (now.status, now.sequence) == (pg.INVOICE_STATUS_PENDING, 1)


async def test_watch_still_delivers_every_event_while_redis_is_down(
    mongo_url: str, tmp_path: Path
) -> None:
    async with gateway(mongo_url, f"redis://127.0.0.1:{free_port()}/0", tmp_path) as running:
        invoice = await _create(running)
        stream = running.stub.WatchInvoice(pg.WatchInvoiceRequest(invoice_id=invoice.invoice_id, after_sequence=1),
                                           timeout=20)
        iterator = stream.__aiter__()
        await iterator.__anext__()
        await running.stub.CancelInvoice(pg.CancelInvoiceRequest(invoice_id=invoice.invoice_id))
        cancelled = await asyncio.wait_for(iterator.__anext__(), 10)
        stream.cancel()

    assert (cancelled.event.sequence, cancelled.event.type) == (2, events_pb2.EVENT_TYPE_INVOICE_CANCELLED)

"""The gRPC adapter of payment-gateway: lucid.tron.v1.PaymentGatewayService over `Invoices`.

Each RPC checks its request (`messages`, every bad field named at once), calls `Invoices`, and maps the answer back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from lucid.tron.v1 import payment_gateway_pb2 as pg
from lucid.tron.v1 import payment_gateway_pb2_grpc
from lucid_tron.mesh import Registration
from lucid_tron.validation import FieldChecks

from . import messages
from .invoices import Invoices
from .reconcile import Reconciler
from lucid_tron.context import principal
from lucid_tron.storage import utc_now


class PaymentGatewayServicer(payment_gateway_pb2_grpc.PaymentGatewayServiceServicer):
    """lucid.tron.v1.PaymentGatewayService."""

    def __init__(self, invoices: Invoices, reconciler: Reconciler) -> None:
        self._invoices = invoices
        self._reconciler = reconciler

    async def CreateInvoice(self, request: pg.CreateInvoiceRequest, context: Any) -> pg.CreateInvoiceResponse:
        check = FieldChecks()
        new = messages.new_invoice(check, request, utc_now())
        check.done()
        assert new is not None
        return await self._invoices.create(
            request.request_id,
            request,
            new,
            lambda invoice: pg.CreateInvoiceResponse(invoice=messages.invoice_message(invoice)),
            pg.CreateInvoiceResponse,
        )

    async def GetInvoice(self, request: pg.GetInvoiceRequest, context: Any) -> pg.GetInvoiceResponse:
        invoice = await self._invoices.get(_invoice_id(request.invoice_id))
        return pg.GetInvoiceResponse(invoice=messages.invoice_message(invoice))

    async def ListInvoices(self, request: pg.ListInvoicesRequest, context: Any) -> pg.ListInvoicesResponse:
        check = FieldChecks()
        query = messages.list_query(check, request)
        size = check.page_size("page_size", request.page_size, default=messages.DEFAULT_PAGE_SIZE,
                               maximum=messages.MAX_PAGE_SIZE)
        after = messages.page_token(check, request.page_token)
        check.done()
        assert size is not None
        page, next_token = await self._invoices.list_page(query, size, after)
        return pg.ListInvoicesResponse(
            invoices=[messages.invoice_message(invoice) for invoice in page], next_page_token=next_token
        )

    async def CancelInvoice(self, request: pg.CancelInvoiceRequest, context: Any) -> pg.CancelInvoiceResponse:
        check = FieldChecks()
        invoice_id = messages.invoice_id(check, request.invoice_id)
        reason = check.string("reason", request.reason, required=False, max_length=messages.MAX_REASON) or ""
        check.done()
        assert invoice_id is not None
        invoice = await self._invoices.cancel(invoice_id, reason)
        return pg.CancelInvoiceResponse(invoice=messages.invoice_message(invoice))

    async def MarkInvoice(self, request: pg.MarkInvoiceRequest, context: Any) -> pg.MarkInvoiceResponse:
        check = FieldChecks()
        invoice_id = messages.invoice_id(check, request.invoice_id)
        status = check.enum("mark", request.mark, messages.MARKS_BY_NUMBER)
        reason = check.string("reason", request.reason, max_length=messages.MAX_REASON)
        etag = check.string("etag", request.etag, required=False, max_length=64)
        check.done()
        assert invoice_id is not None and status is not None and reason is not None
        invoice = await self._invoices.mark(invoice_id, status, reason, etag)
        return pg.MarkInvoiceResponse(invoice=messages.invoice_message(invoice))

    async def WatchInvoice(
        self, request: pg.WatchInvoiceRequest, context: Any
    ) -> AsyncIterator[pg.WatchInvoiceResponse]:
        check = FieldChecks()
        invoice_id = messages.invoice_id(check, request.invoice_id)
        after = check.non_negative("after_sequence", request.after_sequence)
        check.done()
        assert invoice_id is not None and after is not None
        first = True
        # aclosing: a stream the caller ends closes its Redis subscription at once, not when collected.
        async with aclosing(self._invoices.watch(invoice_id, after)) as items:
            async for item in items:
                if first:
                    first = False
                    yield pg.WatchInvoiceResponse(invoice=messages.invoice_message(item))
                else:
                    yield pg.WatchInvoiceResponse(event=messages.event_message(item))

    async def ListInvoiceEvents(
        self, request: pg.ListInvoiceEventsRequest, context: Any
    ) -> pg.ListInvoiceEventsResponse:
        check = FieldChecks()
        invoice_id = messages.invoice_id(check, request.invoice_id)
        size = check.page_size("page_size", request.page_size, default=messages.DEFAULT_PAGE_SIZE,
                               maximum=messages.MAX_PAGE_SIZE)
        after = messages.sequence_token(check, request.page_token)
        check.done()
        assert invoice_id is not None and size is not None
        page = await self._invoices.list_events(invoice_id, after, size + 1)
        next_token = str(page[size - 1]["sequence"]) if len(page) > size else ""
        return pg.ListInvoiceEventsResponse(
            events=[messages.event_message(event) for event in page[:size]], next_page_token=next_token
        )

    async def ReconcileInvoices(
        self, request: pg.ReconcileInvoicesRequest, context: Any
    ) -> pg.ReconcileInvoicesResponse:
        check = FieldChecks()
        invoice_ids = [messages.invoice_id(check, value, "invoice_ids") for value in request.invoice_ids]
        if len(invoice_ids) > messages.MAX_PAGE_SIZE:
            check.fail("invoice_ids", f"at most {messages.MAX_PAGE_SIZE} invoices")
        check.done()
        run = await self._reconciler.requested(principal(), [value for value in invoice_ids if value])
        return pg.ReconcileInvoicesResponse(run=messages.run_message(run))

    async def ListReconciliationRuns(
        self, request: pg.ListReconciliationRunsRequest, context: Any
    ) -> pg.ListReconciliationRunsResponse:
        check = FieldChecks()
        size = check.page_size("page_size", request.page_size, default=messages.DEFAULT_PAGE_SIZE,
                               maximum=messages.MAX_PAGE_SIZE)
        after = messages.run_page_token(check, request.page_token)
        check.done()
        assert size is not None
        page, next_token = await self._reconciler.runs_page(size, after)
        return pg.ListReconciliationRunsResponse(
            runs=[messages.run_message(run) for run in page], next_page_token=next_token
        )


def _invoice_id(value: str) -> str:
    check = FieldChecks()
    invoice_id = messages.invoice_id(check, value)
    check.done()
    assert invoice_id is not None
    return invoice_id


def registration(servicer: PaymentGatewayServicer) -> Registration:
    """The servicer as the mesh registers it (health and reflection under SERVICE_NAME)."""
    return Registration(
        payment_gateway_pb2_grpc.add_PaymentGatewayServiceServicer_to_server, servicer, messages.SERVICE_NAME
    )

"""`lucid-tron invoices ...`: an operator's gRPC client of payment-gateway (PaymentGatewayService).

    create --asset USDT --amount 12.5   a new invoice (amount in whole tokens, up to 6 decimals); prints it
    list                                invoices newest first, as a table (filters: --status, --order-id, --asset)
    show INVOICE_ID                     the invoice, its payments and the QR code of its deposit address
    mark INVOICE_ID paid|invalid --reason R    settle or invalidate by hand
    watch INVOICE_ID                    the invoice, then each event as it happens, until a final state or Ctrl-C
    reconcile [INVOICE_ID ...]          a reconciliation run now; prints what it fixed

With --state-dir (the one `lucid-tron up` uses) they find payment-gateway and the operator's certificate in
endpoints.json. Otherwise give --address and, for mutual TLS, --ca, --cert and --key (an operator certificate from
`lucid-tron pki issue-operator`); without them the call is plaintext (a mesh run with --insecure-plaintext).
The QR code holds the bare deposit address (no TRON standard defines a payment URI); --uri puts
`tron:<address>?amount=<decimal>` in it instead.

Times are UTC. Exit codes: 0 done, 1 refused or failed (the status and reason on stderr), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

from lucid_tron.cli._operator import add_connection_options, run_client, table, target, utc

__all__ = ["add_invoice_commands", "run_invoices"]

SERVICE = "payment-gateway"
DECIMALS = 6
#: Statuses no event changes any more: `watch` stops there.
FINAL_STATUSES = ("PAID", "INVALID", "CANCELLED")
_STATUSES = ("PENDING", "SEEN", "CONFIRMING", "PAID", "EXPIRED", "INVALID", "CANCELLED")


def add_invoice_commands(commands: Any, state_dir_option: Any) -> None:
    """Declare `invoices` and its subcommands on the `lucid-tron` parser."""
    invoices = commands.add_parser(
        "invoices",
        help="payment-gateway's invoices: create, list, show (with a QR code), mark, watch, reconcile",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = invoices.add_subparsers(dest="invoices_command", required=True, metavar="ACTION")

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=help_text, description=help_text)
        state_dir_option(parser)
        add_connection_options(parser, SERVICE)
        return parser

    create = action("create", "create an invoice and print it")
    create.add_argument("--asset", required=True, choices=("TRX", "USDT"), type=str.upper)
    create.add_argument("--amount", required=True, type=_whole_tokens, metavar="DECIMAL",
                        help="in whole tokens, e.g. 12.5 (at most 6 decimals)")
    create.add_argument("--ttl", type=int, metavar="SECONDS", help="lifetime (default: the server's, 15 minutes)")
    create.add_argument("--tolerance-bps", type=int, default=0, metavar="BPS", help="underpayment accepted")
    create.add_argument("--monitoring-window", type=int, metavar="SECONDS", help="payments still watched after expiry")
    create.add_argument("--order-id", default="", help="your order id")
    create.add_argument("--description", default="", help="text shown to the payer")
    create.add_argument("--metadata", action="append", default=[], type=_key_value, metavar="KEY=VALUE")
    create.add_argument("--request-id", default=None, help="idempotency key (default: a new one)")

    listing = action("list", "list invoices, newest first")
    listing.add_argument("--status", action="append", default=[], choices=_STATUSES, type=str.upper)
    listing.add_argument("--order-id", default="")
    listing.add_argument("--asset", choices=("TRX", "USDT"), type=str.upper)
    listing.add_argument("--page-size", type=int, default=50, metavar="N")
    listing.add_argument("--page-token", default="", metavar="TOKEN", help="next page, as printed by the last list")

    show = action("show", "print an invoice, its payments and the QR code of its deposit address")
    show.add_argument("invoice_id", metavar="INVOICE_ID")
    show.add_argument("--uri", action="store_true", help="QR code of tron:<address>?amount=<decimal>")
    show.add_argument("--no-qr", action="store_true", help="no QR code in the terminal")
    show.add_argument("--qr-svg", type=Path, metavar="FILE", help="also write the QR code as SVG")
    show.add_argument("--qr-png", type=Path, metavar="FILE", help="also write the QR code as PNG")

    mark = action("mark", "settle (paid) or invalidate (invalid) an invoice by hand")
    mark.add_argument("invoice_id", metavar="INVOICE_ID")
    mark.add_argument("mark", choices=("paid", "invalid"), type=str.lower)
    mark.add_argument("--reason", required=True)
    mark.add_argument("--etag", default="", help="only if the invoice is still this version")

    watch = action("watch", "print the invoice, then each event, until a final state or Ctrl-C")
    watch.add_argument("invoice_id", metavar="INVOICE_ID")
    watch.add_argument("--after-sequence", type=int, default=0, metavar="N", help="only events after this one")

    reconcile = action("reconcile", "run reconciliation now and print its fixes")
    reconcile.add_argument("invoice_ids", nargs="*", metavar="INVOICE_ID", help="only these (default: all open)")


def run_invoices(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Run one `invoices` action; the exit status."""
    return run_client("invoices", lambda: _run(args, out or sys.stdout))


async def _run(args: argparse.Namespace, out: TextIO) -> int:
    from lucid.tron.v1 import payment_gateway_pb2_grpc
    from lucid_tron.mesh import open_channel

    service = target(args, SERVICE)
    async with open_channel(service.address, credentials=service.credentials) as channel:
        stub = payment_gateway_pb2_grpc.PaymentGatewayServiceStub(channel)
        return await _ACTIONS[args.invoices_command](stub, args, out)


async def _create(stub: Any, args: argparse.Namespace, out: TextIO) -> int:
    from google.protobuf import duration_pb2

    from lucid.tron.v1 import common_pb2, payment_gateway_pb2 as pg

    request = pg.CreateInvoiceRequest(
        request_id=args.request_id or str(uuid.uuid4()),
        asset=common_pb2.Asset.Value(f"ASSET_{args.asset}"),
        amount_base_units=args.amount,
        tolerance_bps=args.tolerance_bps,
        order_id=args.order_id,
        metadata=dict(args.metadata),
        description=args.description,
    )
    if args.ttl is not None:
        request.ttl.CopyFrom(duration_pb2.Duration(seconds=args.ttl))
    if args.monitoring_window is not None:
        request.monitoring_window.CopyFrom(duration_pb2.Duration(seconds=args.monitoring_window))
    invoice = (await stub.CreateInvoice(request, timeout=args.timeout)).invoice
    _print_invoice(invoice, out)
    return 0


async def _list(stub: Any, args: argparse.Namespace, out: TextIO) -> int:
    from lucid.tron.v1 import common_pb2, payment_gateway_pb2 as pg

    request = pg.ListInvoicesRequest(
        statuses=[pg.InvoiceStatus.Value(f"INVOICE_STATUS_{status}") for status in args.status],
        order_id=args.order_id,
        asset=common_pb2.Asset.Value(f"ASSET_{args.asset}") if args.asset else common_pb2.ASSET_UNSPECIFIED,
        page_size=args.page_size,
        page_token=args.page_token,
    )
    page = await stub.ListInvoices(request, timeout=args.timeout)
    rows = [("INVOICE", "STATUS", "EXCEPTION", "AMOUNT", "PAID", "ORDER", "CREATED", "EXPIRES")]
    rows += [
        (
            invoice.invoice_id,
            _status(invoice),
            _exception(invoice),
            f"{invoice.total_decimal} {invoice.token}",
            _decimal(invoice.paid_amount_base_units),
            invoice.order_id or "-",
            utc(invoice.create_time),
            utc(invoice.expire_time),
        )
        for invoice in page.invoices
    ]
    table(rows, out)
    if page.next_page_token:
        print(f"next page: --page-token {page.next_page_token}", file=out)
    return 0


async def _show(stub: Any, args: argparse.Namespace, out: TextIO) -> int:
    import segno

    from lucid.tron.v1 import payment_gateway_pb2 as pg

    invoice = (await stub.GetInvoice(pg.GetInvoiceRequest(invoice_id=args.invoice_id), timeout=args.timeout)).invoice
    _print_invoice(invoice, out)
    content = payment_qr_content(invoice.deposit_address, invoice.total_decimal, uri=args.uri)
    qr = segno.make(content, micro=False)
    if not args.no_qr:
        print(f"\nQR code of {content}:", file=out)
        qr.terminal(out=out, compact=True)
    if args.qr_svg is not None:
        qr.save(args.qr_svg, kind="svg", scale=8)
        print(f"wrote {args.qr_svg}", file=out)
    if args.qr_png is not None:
        qr.save(args.qr_png, kind="png", scale=8)
        print(f"wrote {args.qr_png}", file=out)
    return 0


def payment_qr_content(address: str, total_decimal: str, *, uri: bool) -> str:
    """What the QR code holds: the bare address, or with `uri` `tron:<address>?amount=<decimal>` (trailing zeros of
    the decimal dropped: 12.500000 -> 12.5)."""
    if not uri:
        return address
    amount = total_decimal.rstrip("0").rstrip(".") if "." in total_decimal else total_decimal
    return f"tron:{address}?amount={amount}"


async def _mark(stub: Any, args: argparse.Namespace, out: TextIO) -> int:
    from lucid.tron.v1 import payment_gateway_pb2 as pg

    request = pg.MarkInvoiceRequest(
        invoice_id=args.invoice_id,
        mark=pg.INVOICE_MARK_PAID if args.mark == "paid" else pg.INVOICE_MARK_INVALID,
        reason=args.reason,
        etag=args.etag,
    )
    _print_invoice((await stub.MarkInvoice(request, timeout=args.timeout)).invoice, out)
    return 0


async def _watch(stub: Any, args: argparse.Namespace, out: TextIO) -> int:
    """No timeout: the stream lasts until the invoice is final or the operator stops it."""
    from lucid.tron.v1 import events_pb2, payment_gateway_pb2 as pg

    request = pg.WatchInvoiceRequest(invoice_id=args.invoice_id, after_sequence=args.after_sequence)
    stream = stub.WatchInvoice(request)
    try:
        async for item in stream:
            if item.HasField("invoice"):
                invoice = item.invoice
                print(f"{invoice.invoice_id}  {_status(invoice)}  {_exception(invoice)}  "
                      f"paid {_decimal(invoice.paid_amount_base_units)} of {invoice.total_decimal} {invoice.token}  "
                      f"sequence {invoice.sequence}", file=out, flush=True)
                if _status(invoice) in FINAL_STATUSES:
                    return 0
                continue
            event = item.event
            status = event.data.fields["status"].string_value if "status" in event.data.fields else ""
            kind = events_pb2.EventType.Name(event.type).removeprefix("EVENT_TYPE_")
            print(f"{event.sequence:>4}  {utc(event.time)}  {kind:<24} {status:<10} {event.reason}",
                  file=out, flush=True)
            if status in FINAL_STATUSES:
                return 0
    finally:
        stream.cancel()
    return 0


async def _reconcile(stub: Any, args: argparse.Namespace, out: TextIO) -> int:
    from lucid.tron.v1 import payment_gateway_pb2 as pg

    request = pg.ReconcileInvoicesRequest(invoice_ids=args.invoice_ids)
    run = (await stub.ReconcileInvoices(request, timeout=args.timeout)).run
    print(f"run {run.run_id} ({run.trigger}): {run.invoices_checked} invoice(s) checked, {len(run.fixes)} fix(es)",
          file=out)
    if run.fixes:
        rows = [("INVOICE", "ACTION", "TXID", "LOG", "AMOUNT")]
        rows += [
            (
                fix.invoice_id,
                pg.ReconciliationAction.Name(fix.action).removeprefix("RECONCILIATION_ACTION_"),
                fix.txid,
                str(fix.log_index),
                _decimal(fix.amount_base_units),
            )
            for fix in run.fixes
        ]
        table(rows, out)
    return 0


_ACTIONS = {
    "create": _create, "list": _list, "show": _show, "mark": _mark, "watch": _watch, "reconcile": _reconcile
}


def _print_invoice(invoice: Any, out: TextIO) -> None:
    from lucid.tron.v1 import payment_gateway_pb2 as pg

    fields = [
        ("invoice", invoice.invoice_id),
        ("status", f"{_status(invoice)} ({_exception(invoice)})"),
        ("amount", f"{invoice.total_decimal} {invoice.token}" + (f" ({invoice.token_contract})"
                                                                  if invoice.token_contract else "")),
        ("paid", _decimal(invoice.paid_amount_base_units)),
        ("pending", _decimal(invoice.pending_amount_base_units)),
        ("pay to", f"{invoice.deposit_address} ({invoice.network})"),
        ("expires", utc(invoice.expire_time)),
        ("order id", invoice.order_id or "-"),
        ("description", invoice.description or "-"),
        ("created", utc(invoice.create_time)),
        ("etag", invoice.etag),
    ]
    fields += [(f"metadata {key}", value) for key, value in sorted(invoice.metadata.items())]
    width = max(len(name) for name, _ in fields)
    for name, value in fields:
        print(f"{name.ljust(width)}  {value}", file=out)
    if invoice.payments:
        print(file=out)
        rows = [("TXID", "LOG", "FROM", "AMOUNT", "BLOCK", "STATE", "LATE")]
        rows += [
            (
                payment.txid,
                str(payment.log_index),
                payment.from_address,
                _decimal(payment.amount_base_units),
                str(payment.block_number),
                pg.PaymentState.Name(payment.state).removeprefix("PAYMENT_STATE_"),
                "yes" if payment.after_expiration else "no",
            )
            for payment in invoice.payments
        ]
        table(rows, out)


def _status(invoice: Any) -> str:
    from lucid.tron.v1 import payment_gateway_pb2 as pg

    return str(pg.InvoiceStatus.Name(invoice.status).removeprefix("INVOICE_STATUS_"))


def _exception(invoice: Any) -> str:
    from lucid.tron.v1 import payment_gateway_pb2 as pg

    return str(pg.InvoiceException.Name(invoice.exception).removeprefix("INVOICE_EXCEPTION_"))


def _decimal(base_units: int) -> str:
    whole, fraction = divmod(base_units, 10**DECIMALS)
    return f"{whole}.{fraction:0{DECIMALS}d}"


def _whole_tokens(text: str) -> int:
    """A decimal amount of whole tokens as base units, exactly: 12.5 -> 12500000."""
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a decimal amount: {text}") from None
    units = amount * 10**DECIMALS
    if not amount.is_finite() or units != units.to_integral_value() or amount <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0 with at most {DECIMALS} decimals, got {text}")
    return int(units)


def _key_value(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text}")
    return key, value



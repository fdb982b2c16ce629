"""`lucid-tron webhooks ...`: an operator's gRPC client of WebhookService, the webhook endpoints of payment-gateway
(invoice events) or, with --service payout-router, of payout-router (payout events).

    add URL [--event TYPE ...]          register an endpoint; prints its whsec_ secret, shown this once
    list                                the endpoints, oldest first
    deliveries ENDPOINT_ID              every delivery to it, newest first (--state to filter)
    redeliver ENDPOINT_ID EVENT_ID      deliver an event again, as a new delivery
    rotate ENDPOINT_ID                  a new secret; the old one keeps signing for --overlap seconds
    delete ENDPOINT_ID                  stop delivering to it and forget it (its deliveries are kept)

Event types are written as in the API without the prefix, e.g. INVOICE_PAID (--event INVOICE_PAID --event
INVOICE_EXPIRED); no --event means every type. Connection options as for `lucid-tron invoices`. Times are UTC.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import Any, TextIO

from lucid_tron.cli._operator import add_connection_options, run_client, table, target, utc

__all__ = ["add_webhook_commands", "run_webhooks"]

SERVICES = ("payment-gateway", "payout-router")
_DELIVERY_STATES = ("PENDING", "SUCCEEDED", "DEAD_LETTER")


def add_webhook_commands(commands: Any, state_dir_option: Any) -> None:
    """Declare `webhooks` and its subcommands on the `lucid-tron` parser."""
    webhooks = commands.add_parser(
        "webhooks",
        help="webhook endpoints: add, list, deliveries, redeliver, rotate, delete",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = webhooks.add_subparsers(dest="webhooks_command", required=True, metavar="ACTION")

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=help_text, description=help_text)
        state_dir_option(parser)
        parser.add_argument("--service", choices=SERVICES, default=SERVICES[0],
                            help="whose endpoints (default payment-gateway)")
        add_connection_options(parser, "the service")
        return parser

    add = action("add", "register an endpoint and print its secret (shown this once)")
    add.add_argument("url", metavar="URL", help="https://..., or http:// on loopback or a .test host")
    add.add_argument("--event", action="append", default=[], type=_event_type, metavar="TYPE",
                     help="an event type to send (repeatable; default: every type)")
    add.add_argument("--description", default="")
    add.add_argument("--request-id", default=None, help="idempotency key (default: a new one)")

    listing = action("list", "list the endpoints")
    listing.add_argument("--page-size", type=int, default=50, metavar="N")
    listing.add_argument("--page-token", default="", metavar="TOKEN", help="next page, as printed by the last list")

    deliveries = action("deliveries", "list the deliveries to an endpoint, newest first")
    deliveries.add_argument("endpoint_id", metavar="ENDPOINT_ID")
    deliveries.add_argument("--state", action="append", default=[], choices=_DELIVERY_STATES, type=str.upper)
    deliveries.add_argument("--event-id", default="", help="only this event's deliveries")
    deliveries.add_argument("--page-size", type=int, default=50, metavar="N")
    deliveries.add_argument("--page-token", default="", metavar="TOKEN")

    redeliver = action("redeliver", "deliver an event to an endpoint again")
    redeliver.add_argument("endpoint_id", metavar="ENDPOINT_ID")
    redeliver.add_argument("event_id", metavar="EVENT_ID")

    rotate = action("rotate", "give an endpoint a new secret and print it (shown this once)")
    rotate.add_argument("endpoint_id", metavar="ENDPOINT_ID")
    rotate.add_argument("--overlap", type=int, default=86_400, metavar="SECONDS",
                        help="how long the old secret keeps signing too (default 86400, at most 7 days)")

    delete = action("delete", "stop delivering to an endpoint and forget it")
    delete.add_argument("endpoint_id", metavar="ENDPOINT_ID")


def run_webhooks(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Run one `webhooks` action; the exit status."""
    return run_client("webhooks", lambda: _run(args, out or sys.stdout))


async def _run(args: argparse.Namespace, out: TextIO) -> int:
    from lucid.tron.v1 import webhooks_pb2_grpc
    from lucid_tron.mesh import open_channel

    service = target(args, args.service)
    async with open_channel(service.address, credentials=service.credentials) as channel:
        stub = webhooks_pb2_grpc.WebhookServiceStub(channel)
        return await _ACTIONS[args.webhooks_command](stub, args, out)


async def _add(stub: Any, args: argparse.Namespace, out: TextIO) -> int:
    from lucid.tron.v1 import webhooks_pb2

    request = webhooks_pb2.CreateWebhookEndpointRequest(
        request_id=args.request_id or str(uuid.uuid4()), url=args.url, description=args.description,
        event_types=args.event,
    )
    created = await stub.CreateWebhookEndpoint(request, timeout=args.timeout)
    _print_endpoint(created.endpoint, out)
    print(f"secret    {created.secret}\n(shown this once: verify webhook-signature with it)", file=out)
    return 0


async def _list(stub: Any, args: argparse.Namespace, out: TextIO) -> int:
    from lucid.tron.v1 import webhooks_pb2

    request = webhooks_pb2.ListWebhookEndpointsRequest(page_size=args.page_size, page_token=args.page_token)
    page = await stub.ListWebhookEndpoints(request, timeout=args.timeout)
    rows = [("ENDPOINT", "URL", "EVENTS", "STATE", "FAILURES", "CREATED")]
    rows += [
        (
            endpoint.endpoint_id,
            endpoint.url,
            _events(endpoint.event_types),
            f"disabled: {endpoint.disabled_reason or 'by an operator'}" if endpoint.disabled else "enabled",
            str(endpoint.failure_streak),
            utc(endpoint.create_time),
        )
        for endpoint in page.endpoints
    ]
    table(rows, out)
    if page.next_page_token:
        print(f"next page: --page-token {page.next_page_token}", file=out)
    return 0


async def _deliveries(stub: Any, args: argparse.Namespace, out: TextIO) -> int:
    from lucid.tron.v1 import webhooks_pb2

    request = webhooks_pb2.ListWebhookDeliveriesRequest(
        endpoint_id=args.endpoint_id,
        states=[webhooks_pb2.DeliveryState.Value(f"DELIVERY_STATE_{state}") for state in args.state],
        event_id=args.event_id, page_size=args.page_size, page_token=args.page_token,
    )
    page = await stub.ListWebhookDeliveries(request, timeout=args.timeout)
    rows = [("DELIVERY", "EVENT", "TYPE", "STATE", "ATTEMPTS", "HTTP", "LATENCY", "NEXT ATTEMPT", "ERROR")]
    rows += [_delivery_row(delivery) for delivery in page.deliveries]
    table(rows, out)
    if page.next_page_token:
        print(f"next page: --page-token {page.next_page_token}", file=out)
    return 0


async def _redeliver(stub: Any, args: argparse.Namespace, out: TextIO) -> int:
    from lucid.tron.v1 import webhooks_pb2

    request = webhooks_pb2.RedeliverWebhookEventRequest(endpoint_id=args.endpoint_id, event_id=args.event_id)
    delivery = (await stub.RedeliverWebhookEvent(request, timeout=args.timeout)).delivery
    table([("DELIVERY", "EVENT", "TYPE", "STATE", "ATTEMPTS", "HTTP", "LATENCY", "NEXT ATTEMPT", "ERROR"),
           _delivery_row(delivery)], out)
    return 0


async def _rotate(stub: Any, args: argparse.Namespace, out: TextIO) -> int:
    from google.protobuf import duration_pb2

    from lucid.tron.v1 import webhooks_pb2

    current = await stub.GetWebhookEndpoint(
        webhooks_pb2.GetWebhookEndpointRequest(endpoint_id=args.endpoint_id), timeout=args.timeout
    )
    request = webhooks_pb2.RotateWebhookSecretRequest(
        endpoint_id=args.endpoint_id, overlap=duration_pb2.Duration(seconds=args.overlap), etag=current.endpoint.etag
    )
    rotated = await stub.RotateWebhookSecret(request, timeout=args.timeout)
    _print_endpoint(rotated.endpoint, out)
    print(f"secret    {rotated.secret}\n(shown this once; the old secret signs too until "
          f"{utc(rotated.endpoint.rotation_overlap_end_time)} UTC)", file=out)
    return 0


async def _delete(stub: Any, args: argparse.Namespace, out: TextIO) -> int:
    from lucid.tron.v1 import webhooks_pb2

    await stub.DeleteWebhookEndpoint(
        webhooks_pb2.DeleteWebhookEndpointRequest(endpoint_id=args.endpoint_id), timeout=args.timeout
    )
    print(f"deleted {args.endpoint_id}", file=out)
    return 0


_ACTIONS = {
    "add": _add, "list": _list, "deliveries": _deliveries, "redeliver": _redeliver, "rotate": _rotate,
    "delete": _delete,
}


def _print_endpoint(endpoint: Any, out: TextIO) -> None:
    fields = [
        ("endpoint", endpoint.endpoint_id),
        ("url", endpoint.url),
        ("events", _events(endpoint.event_types)),
        ("state", "disabled" if endpoint.disabled else "enabled"),
        ("etag", endpoint.etag),
    ]
    for name, value in fields:
        print(f"{name.ljust(8)}  {value}", file=out)


def _delivery_row(delivery: Any) -> tuple[str, ...]:
    from lucid.tron.v1 import events_pb2, webhooks_pb2

    latency_ms = delivery.latency.seconds * 1000 + delivery.latency.nanos / 1e6
    return (
        delivery.delivery_id,
        delivery.event_id,
        events_pb2.EventType.Name(delivery.event_type).removeprefix("EVENT_TYPE_"),
        webhooks_pb2.DeliveryState.Name(delivery.state).removeprefix("DELIVERY_STATE_"),
        str(delivery.attempt),
        str(delivery.http_status or "-"),
        f"{latency_ms:.0f} ms" if delivery.attempt else "-",
        utc(delivery.next_attempt_time),
        delivery.error or "-",
    )


def _events(types: Any) -> str:
    from lucid.tron.v1 import events_pb2

    return ",".join(events_pb2.EventType.Name(value).removeprefix("EVENT_TYPE_") for value in types) or "all"


def _event_type(text: str) -> int:
    from lucid.tron.v1 import events_pb2

    name = text.upper().removeprefix("EVENT_TYPE_")
    try:
        return int(events_pb2.EventType.Value(f"EVENT_TYPE_{name}"))
    except ValueError:
        known = ", ".join(n.removeprefix("EVENT_TYPE_") for n in events_pb2.EventType.keys()[1:])
        raise argparse.ArgumentTypeError(f"unknown event type {text}; one of {known}") from None

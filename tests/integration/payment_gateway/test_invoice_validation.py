"""Bad CreateInvoice input is INVALID_ARGUMENT naming the field, and nothing is created."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2, timestamp_pb2

from integration.payment_gateway.gateway_kit import Gateway, create_request
from lucid.tron.v1 import payment_gateway_pb2 as pg


def _at(moment: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


BAD = {
    "unknown asset": ({"asset": 99}, "asset"),
    "no asset": ({"asset": 0}, "asset"),
    "zero amount": ({"amount_base_units": 0}, "amount_base_units"),
    "negative amount": ({"amount_base_units": -1}, "amount_base_units"),
    "amount beyond any supply": ({"amount_base_units": 2**63 - 1}, "amount_base_units"),
    "expiry in the past": ({"expire_time": _at(datetime.now(UTC) - timedelta(minutes=5))}, "expire_time"),
    "expiry absurdly far": ({"expire_time": _at(datetime.now(UTC) + timedelta(days=400))}, "expire_time"),
    "ttl of zero": ({"ttl": duration_pb2.Duration(seconds=0)}, "ttl"),
    "negative ttl": ({"ttl": duration_pb2.Duration(seconds=-60)}, "ttl"),
    "negative tolerance": ({"tolerance_bps": -1}, "tolerance_bps"),
    "tolerance above 100%": ({"tolerance_bps": 10_001}, "tolerance_bps"),
    "monitoring window of a year": ({"monitoring_window": duration_pb2.Duration(seconds=365 * 86400)},
                                    "monitoring_window"),
    "oversized order id": ({"order_id": "o" * 129}, "order_id"),
    "oversized description": ({"description": "d" * 257}, "description"),
    "too many metadata entries": ({"metadata": {f"k{i}": "v" for i in range(21)}}, "metadata"),
    "oversized metadata value": ({"metadata": {"note": "v" * 501}}, "metadata[note]"),
    "metadata key with a dot": ({"metadata": {"a.b": "v"}}, "metadata"),
    "no request id": ({"request_id": ""}, "request_id"),
}


@pytest.mark.parametrize("fields, field", BAD.values(), ids=BAD.keys())
async def test_bad_input_names_the_field(running: Gateway, fields: dict[str, Any], field: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.stub.CreateInvoice(create_request(**fields))

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details().startswith(f"{field}: "), refused.value.details()
    assert not (await running.stub.ListInvoices(pg.ListInvoicesRequest())).invoices


async def test_a_malformed_invoice_id_is_invalid_argument(running: Gateway) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.stub.GetInvoice(pg.GetInvoiceRequest(invoice_id="nope"))

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "invoice_id" in refused.value.details()


async def test_a_mark_without_reason_is_invalid_argument(running: Gateway) -> None:
    invoice = (await running.stub.CreateInvoice(create_request())).invoice
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.stub.MarkInvoice(pg.MarkInvoiceRequest(invoice_id=invoice.invoice_id, mark=pg.INVOICE_MARK_PAID))

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "reason" in refused.value.details()

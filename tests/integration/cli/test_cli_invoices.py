"""`lucid-tron invoices` against a served payment-gateway: create, list, show (with its QR code), mark, watch and
reconcile print what the service answers; with endpoints.json it calls over mutual TLS as the operator."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import segno

from fixtures.pki import OPERATOR, TEST_SERVICE, tls_fields
from integration.payment_gateway.gateway_kit import Gateway, create_request, gateway
from integration.payment_gateway.reconcile_kit import chain, on_chain, pay_usdt, relay, tron
from lucid.tron.v1 import payment_gateway_pb2 as pg
from lucid_tron.cli import main
from lucid_tron.cli._endpoints import Endpoints
from lucid_tron.cli._invoices import run_invoices
from lucid_tron.cli._main import build_parser

#: Fixtures of reconcile_kit, used by name.
__all__ = ["chain", "on_chain", "relay", "tron"]


async def lucid(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`lucid-tron *argv` in a thread (it runs its own event loop): exit status, stdout, stderr."""
    status = await asyncio.to_thread(main, list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def at(served: Gateway) -> list[str]:
    return ["--address", served.server.address]


def qr_text(content: str) -> str:
    rendered = io.StringIO()
    segno.make(content, micro=False).terminal(out=rendered, compact=True)
    return rendered.getvalue()


async def test_create_prints_the_invoice_and_list_shows_it_in_a_table(on_chain, capsys):
    status, created, _ = await lucid(
        capsys, "invoices", "create", *at(on_chain), "--asset", "usdt", "--amount", "12.5", "--order-id", "order-7"
    )
    [invoice_id] = [line.split()[1] for line in created.splitlines() if line.startswith("invoice ")]
    listed_status, listed, _ = await lucid(capsys, "invoices", "list", *at(on_chain), "--order-id", "order-7")

    assert status == 0 and listed_status == 0
    assert "12.500000 USDT" in created
    header, row = listed.splitlines()
    assert header.split()[:4] == ["INVOICE", "STATUS", "EXCEPTION", "AMOUNT"]
    assert row.split()[:6] == [invoice_id, "PENDING", "NONE", "12.500000", "USDT", "0.000000"]


async def test_show_prints_the_qr_code_of_the_bare_deposit_address(on_chain, capsys):
    invoice = (await on_chain.stub.CreateInvoice(create_request())).invoice

    status, shown, _ = await lucid(capsys, "invoices", "show", *at(on_chain), invoice.invoice_id)

    assert status == 0
    assert invoice.deposit_address in shown
    assert qr_text(invoice.deposit_address) in shown


async def test_show_with_uri_encodes_the_address_and_the_decimal_amount(on_chain, capsys):
    invoice = (await on_chain.stub.CreateInvoice(create_request(amount_base_units=12_500_000))).invoice

    status, shown, _ = await lucid(capsys, "invoices", "show", *at(on_chain), invoice.invoice_id, "--uri")

    assert status == 0
    assert qr_text(f"tron:{invoice.deposit_address}?amount=12.5") in shown


async def test_show_writes_the_qr_code_as_svg_and_png(on_chain, capsys, tmp_path: Path):
    invoice = (await on_chain.stub.CreateInvoice(create_request())).invoice
    svg, png = tmp_path / "qr.svg", tmp_path / "qr.png"

    status, _, _ = await lucid(
        capsys, "invoices", "show", *at(on_chain), invoice.invoice_id, "--no-qr", "--qr-svg", str(svg),
        "--qr-png", str(png),
    )  # fmt: skip

    assert status == 0
    assert b"<svg" in svg.read_bytes()
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


async def test_mark_settles_an_invoice_by_hand(on_chain, capsys):
    invoice = (await on_chain.stub.CreateInvoice(create_request())).invoice

    status, marked, _ = await lucid(
        capsys, "invoices", "mark", *at(on_chain), invoice.invoice_id, "paid", "--reason", "paid in cash"
    )

    assert status == 0
    assert "PAID (MARKED)" in marked
    now = (await on_chain.stub.GetInvoice(pg.GetInvoiceRequest(invoice_id=invoice.invoice_id))).invoice
    assert (now.status, now.exception) == (pg.INVOICE_STATUS_PAID, pg.INVOICE_EXCEPTION_MARKED)


async def test_watch_prints_each_event_and_ends_at_a_final_state(on_chain):
    invoice = (await on_chain.stub.CreateInvoice(create_request())).invoice
    printed = io.StringIO()
    args = build_parser().parse_args(["invoices", "watch", *at(on_chain), invoice.invoice_id])
    watching = asyncio.ensure_future(asyncio.to_thread(run_invoices, args, out=printed))
    for _ in range(300):  # until the stream has delivered the invoice as it starts
        if "PENDING" in printed.getvalue():
            break
        await asyncio.sleep(0.05)

    await on_chain.stub.MarkInvoice(
        pg.MarkInvoiceRequest(invoice_id=invoice.invoice_id, mark=pg.INVOICE_MARK_INVALID, reason="fraud")
    )
    status = await asyncio.wait_for(watching, timeout=30)

    first, *events = printed.getvalue().splitlines()
    assert status == 0
    assert first.split()[:2] == [invoice.invoice_id, "PENDING"]
    assert [line.split()[3:6] for line in events] == [["INVOICE_CREATED", "PENDING", "created"],
                                                       ["INVOICE_INVALID", "INVALID", "fraud"]]


async def test_reconcile_prints_the_payment_it_credited(on_chain, chain, tron, devnet_accounts, capsys):
    invoice = (await on_chain.stub.CreateInvoice(create_request(amount_base_units=2_000_000))).invoice
    txid = await pay_usdt(tron, chain, devnet_accounts[0], invoice.deposit_address, 2_000_000)
    chain.produce_block()
    chain.solidify()

    status, printed, _ = await lucid(capsys, "invoices", "reconcile", *at(on_chain))

    assert status == 0
    summary, header, row = printed.splitlines()
    assert summary.endswith("(request): 1 invoice(s) checked, 1 fix(es)")
    assert row.split() == [invoice.invoice_id, "CREDITED", txid, "0", "2.000000"]


async def test_an_unknown_invoice_fails_with_the_status_on_stderr(on_chain, capsys):
    status, _, err = await lucid(capsys, "invoices", "show", *at(on_chain), "inv_" + "0" * 24)

    assert status == 1
    assert err.startswith("lucid-tron invoices: NOT_FOUND")


@pytest.fixture
async def over_mtls(mongo_url, redis_url, tmp_path, mesh_pki) -> AsyncIterator[Gateway]:
    """A payment-gateway that requires an operator's certificate (its peers are never called here)."""
    async with gateway(
        mongo_url, redis_url, tmp_path, **tls_fields(mesh_pki.files("services", TEST_SERVICE)), insecure_plaintext=False
    ) as served:
        yield served


def state_dir_of(served: Gateway, mesh_pki, directory: Path) -> Path:
    """A state dir whose endpoints.json names the gateway and the operator's certificate, as `up` writes it."""
    operator = mesh_pki.files("operators", OPERATOR)
    Endpoints(
        services={"payment-gateway": served.server.address}, devnet_url="http://127.0.0.1:9", usdt_contract="",
        mongo_url="mongodb://127.0.0.1:9", redis_url="redis://127.0.0.1:9", metrics={}, health={},
        tls={"ca": str(operator.ca), "operator_cert": str(operator.certificate), "operator_key": str(operator.key)},
    ).write(directory)  # fmt: skip
    return directory


async def test_endpoints_json_gives_the_operator_certificate_and_the_run_records_the_operator(
    over_mtls, mesh_pki, tmp_path, capsys
):
    state_dir = state_dir_of(over_mtls, mesh_pki, tmp_path)

    status, printed, err = await lucid(capsys, "invoices", "reconcile", "--state-dir", str(state_dir))

    assert (status, err) == (0, "")
    assert f"(request:spiffe://lucid/operator/{OPERATOR}): 0 invoice(s) checked" in printed


async def test_without_a_certificate_a_mtls_gateway_is_not_reached(over_mtls, capsys):
    status, _, err = await lucid(capsys, "invoices", "list", "--address", over_mtls.server.address, "--timeout", "5")

    assert status == 1
    assert err.startswith("lucid-tron invoices: UNAVAILABLE")


def test_an_amount_with_more_than_six_decimals_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_status:
        main(["invoices", "create", "--address", "127.0.0.1:9", "--asset", "USDT", "--amount", "1.0000001"])

    assert exit_status.value.code == 2
    assert "at most 6 decimals" in capsys.readouterr().err


def test_nothing_listening_is_unavailable(capsys):
    status = main(["invoices", "list", "--address", "127.0.0.1:9", "--timeout", "5"])

    assert status == 1
    assert capsys.readouterr().err.startswith("lucid-tron invoices: UNAVAILABLE")

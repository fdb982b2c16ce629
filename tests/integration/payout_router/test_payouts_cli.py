"""`lucid-tron payouts`: the operators' client, over mutual TLS with operator certificates (the approver is the
certificate's identity)."""

from __future__ import annotations

import asyncio
import io
import re
import uuid

import pytest

from fixtures.pki import tls_fields
from integration.payout_router.payout_kit import recipient
from lucid_tron.cli._main import build_parser
from lucid_tron.cli._payouts import run_payouts
from lucid_tron.mesh import serving
from lucid_tron.pki import PkiDirectory
from lucid_tron.services.payout_router.__main__ import PayoutRouterSettings, build

USDT_CONTRACT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiDirectory:
    pki = PkiDirectory(tmp_path_factory.mktemp("cli-pki") / "pki")
    pki.init_ca()
    pki.issue_service("payout-router")
    pki.issue_operator("alice")
    pki.issue_operator("bob")
    return pki


async def cli(address: str, pki: PkiDirectory, operator: str, *argv: str) -> tuple[int, str]:
    files = pki.files("operators", operator)
    # The connection options belong to the last word of the action ("batch approve").
    words = 2 if argv[0] == "batch" else 1
    action, rest = list(argv[:words]), argv[words:]
    args = build_parser().parse_args([
        "payouts", *action, "--address", address, "--ca", str(files.ca), "--cert", str(files.certificate),
        "--key", str(files.key), *rest,
    ])
    out = io.StringIO()
    status = await asyncio.to_thread(run_payouts, args, out=out)
    return status, out.getvalue()


async def test_an_operator_creates_and_another_approves_from_the_command_line(mongo_url, redis_url, pki, capsys):
    settings = PayoutRouterSettings(
        port=0, mongo_url=mongo_url, mongo_database=f"payout_{uuid.uuid4().hex[:12]}", redis_url=redis_url,
        tron_client_addr="127.0.0.1:9", wallet_manager_addr="127.0.0.1:9", usdt_contract=USDT_CONTRACT,
        approval_threshold_usdt_base_units=1_000_000, dependency_check_interval_s=5.0,
        **tls_fields(pki.files("services", "payout-router")),
    )
    to = recipient()
    async with serving(build(settings), settings) as server:
        status, created = await cli(server.address, pki, "alice", "create", "--to", to, "--amount", "12.5")
        payout_id = re.search(r"po_[0-9a-f]{24}", created).group(0)
        self_status, _ = await cli(server.address, pki, "alice", "approve", payout_id)
        refusal = capsys.readouterr().err
        approve_status, approved = await cli(server.address, pki, "bob", "approve", payout_id)
        _, shown = await cli(server.address, pki, "bob", "show", payout_id)
        _, limits = await cli(server.address, pki, "bob", "limits")
        _, breaker = await cli(server.address, pki, "bob", "breaker", "open", "--reason", "audit")
    assert status == 0 and "AWAITING_APPROVAL" in created and "12.5" in created
    assert self_status == 1 and "PERMISSION_DENIED" in refusal
    assert approve_status == 0 and "APPROVED" in approved
    assert "spiffe://lucid/operator/bob" in shown
    assert "12.5/1000" in limits
    assert "OPEN" in breaker and "OPERATOR" in breaker


async def test_a_batch_from_a_file_is_approved_as_a_whole_from_the_command_line(
    mongo_url, redis_url, pki, tmp_path, capsys
):
    settings = PayoutRouterSettings(
        port=0, mongo_url=mongo_url, mongo_database=f"payout_{uuid.uuid4().hex[:12]}", redis_url=redis_url,
        tron_client_addr="127.0.0.1:9", wallet_manager_addr="127.0.0.1:9", usdt_contract=USDT_CONTRACT,
        approval_threshold_usdt_base_units=1_000_000, dependency_check_interval_s=5.0,
        **tls_fields(pki.files("services", "payout-router")),
    )
    payouts = tmp_path / "payouts.csv"
    payouts.write_text(f"{recipient()},0.75\n{recipient()},2,TRX,node 7\n", encoding="utf-8")
    async with serving(build(settings), settings) as server:
        status, created = await cli(server.address, pki, "alice", "batch", "create", "--file", str(payouts),
                                    "--pay", f"{recipient()}=0.5", "--reference", "earnings 2026-11")
        batch_id = re.search(r"pb_[0-9a-f]{24}", created).group(0)
        approve_status, approved = await cli(server.address, pki, "bob", "batch", "approve", batch_id)
        _, listed = await cli(server.address, pki, "bob", "batch", "list")
        _, in_batch = await cli(server.address, pki, "bob", "list", "--batch", batch_id)
        bad_status, _ = await cli(server.address, pki, "alice", "batch", "create", "--pay", f"{recipient()}=1:BTC")
        refusal = capsys.readouterr().err
    assert status == 0 and "AWAITING_APPROVAL" in created and "1.25 USDT" in created and "2 TRX" in created
    assert approve_status == 0 and approved.count("APPROVED") == 4
    assert batch_id in listed
    assert in_batch.count("APPROVED") == 3
    assert bad_status == 1 and "asset must be USDT or TRX" in refusal


async def test_failing_a_payout_never_signed_is_refused_from_the_command_line(mongo_url, redis_url, pki, capsys):
    settings = PayoutRouterSettings(
        port=0, mongo_url=mongo_url, mongo_database=f"payout_{uuid.uuid4().hex[:12]}", redis_url=redis_url,
        tron_client_addr="127.0.0.1:9", wallet_manager_addr="127.0.0.1:9", usdt_contract=USDT_CONTRACT,
        dependency_check_interval_s=5.0, **tls_fields(pki.files("services", "payout-router")),
    )
    async with serving(build(settings), settings) as server:
        _, created = await cli(server.address, pki, "alice", "create", "--to", recipient(), "--amount", "1")
        payout_id = re.search(r"po_[0-9a-f]{24}", created).group(0)
        status, _ = await cli(server.address, pki, "bob", "fail", payout_id, "--reason", "account closed")
        refusal = capsys.readouterr().err
    assert status == 1 and "FAILED_PRECONDITION" in refusal and "cancelled, not failed" in refusal

"""The audit log over gRPC: every create, derive, sign, refusal and policy change is an entry of one hash chain;
VerifyAuditLog names the first entry someone changed in MongoDB."""

from __future__ import annotations

import json

import grpc
import pytest
from google.protobuf import field_mask_pb2

from integration.wallet_manager.wallet_kit import Running, create_hd, sign_request, trx_transfer
from lucid.tron.v1 import wallet_pb2
from lucid_tron.storage import GENESIS_HASH, connect_mongo


async def all_entries(running: Running) -> list[wallet_pb2.AuditEntry]:
    entries, token = [], ""
    while True:
        page = await running.stub.ListAuditEntries(wallet_pb2.ListAuditEntriesRequest(page_size=2, page_token=token))
        entries += page.entries
        token = page.next_page_token
        if not token:
            return entries


async def a_bit_of_everything(running: Running) -> wallet_pb2.Wallet:
    wallet = await create_hd(running.stub)
    await running.stub.DeriveAddress(wallet_pb2.DeriveAddressRequest(wallet_id=wallet.wallet_id, label="invoice:9"))
    raw, intent = trx_transfer(wallet.first_address, 5)
    await running.stub.SignTransaction(sign_request(wallet.wallet_id, raw, intent, reference="payout:1"))
    intent.amount_base_units = 6
    with pytest.raises(grpc.aio.AioRpcError):
        await running.stub.SignTransaction(sign_request(wallet.wallet_id, raw, intent, reference="payout:2"))
    await running.stub.UpdateWallet(
        wallet_pb2.UpdateWalletRequest(
            wallet=wallet_pb2.Wallet(wallet_id=wallet.wallet_id, display_name="renamed"),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        )
    )
    return wallet


async def test_every_create_derive_sign_refusal_and_update_is_an_entry_of_the_chain(running: Running) -> None:
    wallet = await a_bit_of_everything(running)

    entries = await all_entries(running)

    assert [entry.action for entry in entries] == [
        "wallet.create", "address.derive", "transaction.sign", "transaction.refuse", "wallet.update",
    ]
    assert [entry.seq for entry in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(entries, entries[1:]))
    signed, refused = json.loads(entries[2].details_json), json.loads(entries[3].details_json)
    assert signed["reference"] == "payout:1" and signed["wallet_id"] == wallet.wallet_id
    assert refused["reason"] == "INTENT_MISMATCH" and refused["reference"] == "payout:2"


async def test_verify_audit_log_finds_an_intact_chain(running: Running) -> None:
    await a_bit_of_everything(running)

    verdict = await running.stub.VerifyAuditLog(wallet_pb2.VerifyAuditLogRequest())

    assert verdict.intact
    assert verdict.entry_count == 5


async def test_verify_audit_log_reports_the_first_entry_edited_in_mongodb(running: Running, mongo_url: str) -> None:
    await a_bit_of_everything(running)
    client, db = connect_mongo(mongo_url, running.database, app_name="tamperer")
    try:
        await db.audit_log.update_one({"_id": 3}, {"$set": {"details.amount_base_units": 5_000_000}})
    finally:
        await client.close()

    verdict = await running.stub.VerifyAuditLog(wallet_pb2.VerifyAuditLogRequest())

    assert not verdict.intact
    assert verdict.first_broken_seq == 3
    assert verdict.problem == "entry modified"


async def test_a_sign_request_that_does_not_parse_is_audited_as_a_refusal(running: Running) -> None:
    with pytest.raises(grpc.aio.AioRpcError):
        await running.stub.SignTransaction(wallet_pb2.SignTransactionRequest(wallet_id="nonsense", raw_data=b"x"))

    (entry,) = await all_entries(running)

    assert entry.action == "transaction.refuse"
    assert json.loads(entry.details_json)["reason"] == "INVALID_ARGUMENT"

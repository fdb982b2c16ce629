"""Over mutual TLS, as the mesh serves it: the audit log names the caller by the SPIFFE id of its verified
certificate."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import grpc

from fixtures.pki import OPERATOR, TEST_SERVICE, tls_fields
from integration.wallet_manager.wallet_kit import generous_policy, wallet_manager
from lucid.tron.v1 import wallet_pb2, wallet_pb2_grpc
from lucid_tron.pki import PkiDirectory, channel_credentials


async def test_the_audit_log_names_the_verified_caller(mongo_url: str, tmp_path: Path, mesh_pki: PkiDirectory) -> None:
    policy = tmp_path / "acl.json"
    policy.write_text(
        '{"name": "wallet-test", "allow_rules": [{"name": "any-verified-caller", "source": {"principals": ["*"]}}]}'
    )
    tls = {**tls_fields(mesh_pki.files("services", TEST_SERVICE)), "insecure_plaintext": False}
    credentials = channel_credentials(mesh_pki.files("operators", OPERATOR).read())
    async with wallet_manager(mongo_url, tmp_path, acl_policy_file=str(policy), **tls) as running:
        async with grpc.aio.secure_channel(running.server.address, credentials) as channel:
            stub = wallet_pb2_grpc.WalletServiceStub(channel)
            await stub.CreateWallet(
                wallet_pb2.CreateWalletRequest(
                    request_id=str(uuid.uuid4()), wallet=wallet_pb2.Wallet(spend_policy=generous_policy())
                )
            )
            entries = (await stub.ListAuditEntries(wallet_pb2.ListAuditEntriesRequest())).entries

    assert [(entry.action, entry.principal) for entry in entries] == [
        ("wallet.create", f"spiffe://lucid/operator/{OPERATOR}")
    ]
    assert json.loads(entries[0].details_json)["kind"] == "hd"

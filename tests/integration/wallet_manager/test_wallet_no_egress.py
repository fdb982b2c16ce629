"""No key material leaves wallet-manager: after a full run (HD wallets created, a mnemonic restored and a key
imported on the host, addresses derived, many transactions signed, refusals of every kind), no log line the process
wrote, no RPC answer (messages, statuses, details, metadata) and no MongoDB document holds a private key (raw bytes
or hex) or three consecutive words of a mnemonic in the clear."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import bson
import grpc
from google.protobuf import field_mask_pb2
from google.protobuf.message import Message

from fixtures.service_processes import ServiceProcess, start_service_process
from integration.wallet_manager.wallet_kit import (
    USDT_CONTRACT,
    generous_policy,
    sign_request,
    trx_transfer,
    usdt_transfer,
)
from lucid.tron.v1 import wallet_pb2, wallet_pb2_grpc
from lucid_tron.chain import PrivateKey
from lucid_tron.keys import HdSecret, MasterSecret, new_mnemonic
from lucid_tron.storage import connect_mongo

MODULE = "lucid_tron.services.wallet_manager"


class Seen:
    """Everything that left the process, as text and bytes."""

    def __init__(self) -> None:
        self.blobs: list[bytes] = []

    def message(self, message: Message) -> None:
        self.blobs += [message.SerializeToString(), str(message).encode()]

    def error(self, error: grpc.aio.AioRpcError) -> None:
        self.blobs.append(str(error).encode())
        for key, value in (error.trailing_metadata() or ()):
            self.blobs.append(key.encode() + (value if isinstance(value, bytes) else value.encode()))


def secrets_in(blob: bytes, keys: list[PrivateKey], mnemonics: list[str]) -> list[str]:
    found = []
    lowered = blob.lower()
    for key in keys:
        raw = key.to_bytes()
        if raw in blob or raw.hex().encode() in lowered:
            found.append(f"private key of {key.address}")
    text = lowered.decode("utf-8", errors="replace")
    for mnemonic in mnemonics:
        words = mnemonic.split()
        for start in range(len(words) - 2):
            if " ".join(words[start : start + 3]) in text:
                found.append(f"mnemonic words {start + 1}-{start + 3}")
                break
    return found


async def drain(service: ServiceProcess) -> None:
    """Read the service's log as it writes it: a full pipe would block the process."""
    assert service.process.stderr is not None
    async for line in service.process.stderr:
        service.log.append(json.loads(line))


def host(*args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "lucid_tron.cli", "wallet", *args], input=stdin, capture_output=True, text=True,
        timeout=60, check=True,
    )
    return done.stdout


async def test_a_full_run_leaks_no_key_and_no_mnemonic(mongo_url: str, tmp_path: Path) -> None:
    database = f"wallet_{uuid.uuid4().hex[:12]}"
    key_file = tmp_path / "master"
    MasterSecret.create_file(key_file)
    options = ["--mongo-url", mongo_url, "--database", database, "--master-key-file", str(key_file)]
    service = await start_service_process(
        MODULE, tmp_path, MONGO_URL=mongo_url, MONGO_DATABASE=database, USDT_CONTRACT=USDT_CONTRACT,
        ENCRYPTION_KEY_FILE=str(key_file), LOG_LEVEL="DEBUG",
    )
    seen = Seen()
    draining = asyncio.create_task(drain(service))
    restored_mnemonic, imported = new_mnemonic(), PrivateKey.generate()
    signers: list[tuple[str, str]] = []  # (wallet_id, owner address)
    async with grpc.aio.insecure_channel(service.address) as channel:
        stub = wallet_pb2_grpc.WalletServiceStub(channel)

        async def call(method: Any, request: Message) -> Any:
            try:
                response = await method(request)
            except grpc.aio.AioRpcError as error:
                seen.error(error)
                return None
            seen.message(response)
            return response

        created = []
        for n in range(3):
            response = await call(stub.CreateWallet, wallet_pb2.CreateWalletRequest(
                request_id=str(uuid.uuid4()), wallet=wallet_pb2.Wallet(display_name=f"hot-{n}", spend_policy=generous_policy())))
            created.append(response.wallet)
        restored_id = (await asyncio.to_thread(host, "restore", *options, stdin=restored_mnemonic)).strip()
        imported_id = (await asyncio.to_thread(host, "import-key", *options, stdin=imported.to_bytes().hex())).strip()
        for wallet_id in (restored_id, imported_id):
            await call(stub.UpdateWallet, wallet_pb2.UpdateWalletRequest(
                wallet=wallet_pb2.Wallet(wallet_id=wallet_id, spend_policy=generous_policy()),
                update_mask=field_mask_pb2.FieldMask(paths=["spend_policy"])))
        signers.append((imported_id, imported.address))
        for wallet in [*created, (await call(stub.GetWallet, wallet_pb2.GetWalletRequest(wallet_id=restored_id))).wallet]:
            for _ in range(3):
                derived = await call(stub.DeriveAddress, wallet_pb2.DeriveAddressRequest(wallet_id=wallet.wallet_id, label="x"))
                signers.append((wallet.wallet_id, derived.address.address))
            signers.append((wallet.wallet_id, wallet.first_address))
        await call(stub.ListAddresses, wallet_pb2.ListAddressesRequest(wallet_id=created[0].wallet_id))
        await call(stub.ListWallets, wallet_pb2.ListWalletsRequest())
        soon = int(time.time() * 1000) + 60_000
        for n, (wallet_id, owner) in enumerate(signers * 2):
            await call(stub.SignTransaction, sign_request(wallet_id, *trx_transfer(owner, 1000 + n, expiration_ms=soon + n)))
            await call(stub.SignTransaction, sign_request(wallet_id, *usdt_transfer(owner, 1000 + n)))
            raw, intent = trx_transfer(owner, 5)
            intent.amount_base_units = 6
            await call(stub.SignTransaction, sign_request(wallet_id, raw, intent))  # INTENT_MISMATCH
            await call(stub.SignTransaction, sign_request(wallet_id, *trx_transfer(owner, 5, expiration_ms=soon - 120_000)))  # expired
            await call(stub.SignTransaction, sign_request(wallet_id, b"\x0a\x02" + bytes(200), intent))  # malformed
            await call(stub.SignTransaction, sign_request(wallet_id, *trx_transfer(owner, 10**13)))  # per-tx cap
        await call(stub.ListAuditEntries, wallet_pb2.ListAuditEntriesRequest(page_size=500))
        await call(stub.VerifyAuditLog, wallet_pb2.VerifyAuditLogRequest())
    draining.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await draining
    assert await service.stop() == 0

    # The mnemonics of the wallets created over the network, only now, from the host, to know what to look for.
    mnemonics = [restored_mnemonic]
    for wallet in created:
        shown = await asyncio.to_thread(host, "backup", wallet.wallet_id, *options, stdin="show\n")
        mnemonics.append(" ".join(token for token in shown.split() if not token.endswith(".")))
    keys = [imported]
    for wallet, mnemonic in zip([None, *created], mnemonics):
        keys += [HdSecret.from_mnemonic(mnemonic).key(0, index) for index in range(4)]
    assert {key.address for key in keys} >= {owner for _, owner in signers}

    client, db = connect_mongo(mongo_url, database, app_name="no-egress")
    try:
        documents = [
            bson.encode(document)
            for name in await db.list_collection_names()
            for document in await db[name].find().to_list()
        ]
    finally:
        await client.close()
    log_lines = [repr(line).encode() for line in service.log]
    assert len(log_lines) > 50 and len(seen.blobs) > 200 and len(documents) > 100

    leaks = {
        source: found
        for source, blobs in (("log", log_lines), ("rpc", seen.blobs), ("mongodb", documents))
        for blob in blobs
        if (found := secrets_in(blob, keys, mnemonics))
    }
    assert leaks == {}

"""`lucid-tron wallet ...` run as an operator runs it on the wallet-manager host, against the database a running
wallet-manager serves: restore and import make wallets it signs with, backup shows a mnemonic only when confirmed,
and a master-key rotation leaves every wallet readable with the new secret only."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path

import grpc
import pytest
from google.protobuf import field_mask_pb2

from fixtures.rpc_errors import error_reason
from integration.wallet_manager.wallet_kit import (
    Running,
    create_hd,
    generous_policy,
    master_key_file,
    sign_request,
    trx_transfer,
    wallet_manager,
)
from lucid.tron.v1 import wallet_pb2
from lucid_tron.chain import PrivateKey, recover_address, txid
from lucid_tron.keys import HdSecret, MasterSecret, new_mnemonic


def lucid_tron(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lucid_tron.cli", *args], input=stdin, capture_output=True, text=True, timeout=60
    )


def wallet_options(running: Running, mongo_url: str) -> list[str]:
    return ["--mongo-url", mongo_url, "--database", running.database, "--master-key-file", str(running.master_key_file)]


async def with_policy(running: Running, wallet_id: str) -> None:
    await running.stub.UpdateWallet(
        wallet_pb2.UpdateWalletRequest(
            wallet=wallet_pb2.Wallet(wallet_id=wallet_id, spend_policy=generous_policy()),
            update_mask=field_mask_pb2.FieldMask(paths=["spend_policy"]),
        )
    )


async def test_restore_reads_the_mnemonic_from_stdin_and_prints_the_new_wallet(running: Running, mongo_url: str) -> None:
    mnemonic = new_mnemonic()

    done = await asyncio.to_thread(lucid_tron, "wallet", "restore", *wallet_options(running, mongo_url), stdin=mnemonic + "\n")

    assert done.returncode == 0, done.stderr
    wallet_id = done.stdout.strip()
    wallet = (await running.stub.GetWallet(wallet_pb2.GetWalletRequest(wallet_id=wallet_id))).wallet
    assert wallet.first_address == HdSecret.from_mnemonic(mnemonic).address(0, 0)
    assert mnemonic.split()[0] not in done.stdout + done.stderr


async def test_restore_takes_no_mnemonic_as_an_argument(running: Running, mongo_url: str) -> None:
    done = await asyncio.to_thread(lucid_tron, "wallet", "restore", *wallet_options(running, mongo_url), *new_mnemonic().split())

    assert done.returncode == 2
    assert "unrecognized arguments" in done.stderr


async def test_a_restored_wallet_signs_nothing_until_its_policy_is_set(running: Running, mongo_url: str) -> None:
    mnemonic = new_mnemonic()
    done = await asyncio.to_thread(lucid_tron, "wallet", "restore", *wallet_options(running, mongo_url), stdin=mnemonic)
    wallet_id = done.stdout.strip()
    owner = HdSecret.from_mnemonic(mnemonic).address(0, 0)
    raw, intent = trx_transfer(owner, 10)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.stub.SignTransaction(sign_request(wallet_id, raw, intent))
    await with_policy(running, wallet_id)
    signed = await running.stub.SignTransaction(sign_request(wallet_id, raw, intent))

    assert error_reason(refused.value) == "KIND_NOT_ALLOWED"
    assert recover_address(txid(raw), signed.signature) == owner


async def test_backup_shows_the_mnemonic_only_after_confirmation(running: Running, mongo_url: str) -> None:
    mnemonic = new_mnemonic()
    restored = await asyncio.to_thread(lucid_tron, "wallet", "restore", *wallet_options(running, mongo_url), stdin=mnemonic)
    wallet_id = restored.stdout.strip()

    refused = await asyncio.to_thread(lucid_tron, "wallet", "backup", wallet_id, *wallet_options(running, mongo_url), stdin="no\n")
    shown = await asyncio.to_thread(lucid_tron, "wallet", "backup", wallet_id, *wallet_options(running, mongo_url), stdin="show\n")

    assert refused.returncode == 1
    assert not set(mnemonic.split()) & set(refused.stdout.split())
    assert shown.returncode == 0, shown.stderr
    words = [token for token in shown.stdout.split() if not token.endswith(".")]
    assert words == mnemonic.split()


async def test_import_key_from_a_key_file_makes_a_single_key_wallet_that_signs(
    running: Running, mongo_url: str, tmp_path: Path
) -> None:
    key = PrivateKey.generate()
    key_file = tmp_path / "tron_private_key"
    key_file.write_text(key.to_bytes().hex() + "\n")

    done = await asyncio.to_thread(
        lucid_tron, "wallet", "import-key", "--key-file", str(key_file), *wallet_options(running, mongo_url)
    )

    assert done.returncode == 0, done.stderr
    wallet_id = done.stdout.strip()
    wallet = (await running.stub.GetWallet(wallet_pb2.GetWalletRequest(wallet_id=wallet_id))).wallet
    assert wallet.kind == wallet_pb2.WALLET_KIND_SINGLE_KEY
    assert wallet.first_address == key.address
    await with_policy(running, wallet_id)
    raw, intent = trx_transfer(key.address, 10)
    signed = await running.stub.SignTransaction(sign_request(wallet_id, raw, intent))
    assert recover_address(txid(raw), signed.signature) == key.address


async def test_rotate_master_key_leaves_every_wallet_readable_with_the_new_secret_only(
    mongo_url: str, tmp_path: Path
) -> None:
    database = f"wallet_{uuid.uuid4().hex[:12]}"
    old = master_key_file(tmp_path)
    new = tmp_path / "new_master_key"
    MasterSecret.create_file(new)
    async with wallet_manager(mongo_url, tmp_path, database=database) as running:
        wallet = await create_hd(running.stub)

    done = await asyncio.to_thread(
        lucid_tron, "wallet", "rotate-master-key", "--new-secret-file", str(new), "--mongo-url", mongo_url,
        "--database", database, "--master-key-file", str(old),
    )

    assert done.returncode == 0, done.stderr
    async with wallet_manager(mongo_url, tmp_path, database=database, key_file=new) as running:
        raw, intent = trx_transfer(wallet.first_address, 10)
        signed = await running.stub.SignTransaction(sign_request(wallet.wallet_id, raw, intent))
        assert recover_address(txid(raw), signed.signature) == wallet.first_address
    stale = await asyncio.to_thread(
        lucid_tron, "wallet", "backup", wallet.wallet_id, "--mongo-url", mongo_url, "--database", database,
        "--master-key-file", str(old), stdin="show\n",
    )
    assert stale.returncode == 78


async def test_with_a_state_dir_the_commands_find_the_database_and_the_master_secret(
    running: Running, mongo_url: str, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    (state_dir / "secrets").mkdir(parents=True)
    (state_dir / "secrets" / "wallet_master_key").write_bytes(running.master_key_file.read_bytes())
    (state_dir / "endpoints.json").write_text(json.dumps({"mongo_url": mongo_url}))

    done = await asyncio.to_thread(
        lucid_tron, "wallet", "restore", "--state-dir", str(state_dir), "--database", running.database,
        stdin=new_mnemonic(),
    )

    assert done.returncode == 0, done.stderr
    await running.stub.GetWallet(wallet_pb2.GetWalletRequest(wallet_id=done.stdout.strip()))


async def test_with_the_state_dir_of_a_stopped_up_the_commands_serve_its_database_themselves(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    (state_dir / "mongo" / "data").mkdir(parents=True)
    (state_dir / "secrets").mkdir()
    MasterSecret.create_file(state_dir / "secrets" / "wallet_master_key")
    mnemonic = new_mnemonic()

    restored = await asyncio.to_thread(lucid_tron, "wallet", "restore", "--state-dir", str(state_dir), stdin=mnemonic)
    shown = await asyncio.to_thread(
        lucid_tron, "wallet", "backup", restored.stdout.strip(), "--state-dir", str(state_dir), stdin="show\n"
    )

    assert restored.returncode == 0, restored.stderr
    assert [token for token in shown.stdout.split() if not token.endswith(".")] == mnemonic.split()

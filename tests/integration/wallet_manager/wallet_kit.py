"""wallet-manager built in the test's process, on a real SecantusDB, served over real gRPC on loopback (in plaintext:
mutual TLS is the mesh's, tested in its own suite).

    async with wallet_manager(mongo_url, tmp_path) as running:
        stub = running.stub                               # WalletServiceStub on a real channel
        wallet = await create_hd(stub, policy=generous_policy())

Transactions are built with lucid_tron.chain against a made-up reference block: wallet-manager never looks at the
chain, so no devnet is needed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from lucid.tron.v1 import common_pb2, wallet_pb2, wallet_pb2_grpc
from lucid_tron.chain import build_transaction, make_block_id, protocol, transfer_contract, trc20_transfer
from lucid_tron.keys import MasterSecret
from lucid_tron.mesh import MeshServer, serving
from lucid_tron.services.wallet_manager.__main__ import WalletManagerSettings, build

#: Mainnet's USDT contract: the token wallet-manager is configured with (no chain is called).
USDT_CONTRACT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
RECIPIENT = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
TRX = common_pb2.ASSET_TRX
USDT = common_pb2.ASSET_USDT
K = wallet_pb2


@dataclass
class Running:
    server: MeshServer
    channel: grpc.aio.Channel
    stub: wallet_pb2_grpc.WalletServiceStub
    database: str
    master_key_file: Path


def master_key_file(directory: Path) -> Path:
    path = directory / "wallet_master_key"
    if not path.exists():
        MasterSecret.create_file(path)
    return path


@asynccontextmanager
async def wallet_manager(
    mongo_url: str, directory: Path, *, database: str | None = None, key_file: Path | None = None, **values: Any
) -> AsyncIterator[Running]:
    database = database or f"wallet_{uuid.uuid4().hex[:12]}"
    key_file = key_file or master_key_file(directory)
    fields: dict[str, Any] = {
        "port": 0,
        "mongo_url": mongo_url,
        "mongo_database": database,
        "usdt_contract": USDT_CONTRACT,
        "encryption_key_file": str(key_file),
        # No test here reads health, and a probe every 0.1 s was seen, twice in ~60 fixtures under heavy load, to
        # survive the cancellation that shutdown sends it, looping until the test timed out (in the mesh's health
        # watch or pymongo, not reproduced alone): probing rarely keeps that window small.
        "dependency_check_interval_s": 5.0,
        "insecure_plaintext": True,
    }
    settings = WalletManagerSettings(**{**fields, **values})
    async with serving(build(settings), settings) as server, grpc.aio.insecure_channel(server.address) as channel:
        await until_serving(server)
        yield Running(server, channel, wallet_pb2_grpc.WalletServiceStub(channel), database, key_file)


async def until_serving(server: MeshServer, timeout_s: float = 30.0) -> None:
    """Until wallet-manager reports SERVING: MongoDB answered and the key vault is open. Its first probe, before the
    port opens, can miss a SecantusDB slowed by a loaded machine; the vault then opens at the next probe, up to
    dependency_check_interval_s later, and a call before that is refused UNAVAILABLE (VAULT_NOT_OPEN)."""
    deadline = time.monotonic() + timeout_s
    while not server.health.serving:
        assert time.monotonic() < deadline, f"wallet-manager not SERVING within {timeout_s} s"
        await asyncio.sleep(0.05)


def generous_policy(**changes: Any) -> wallet_pb2.SpendPolicy:
    """Every kind, the USDT contract, 100 TRX fee limit, caps far above what the tests move unless changed."""
    policy = wallet_pb2.SpendPolicy(
        caps=[
            wallet_pb2.AssetCap(asset=TRX, per_transaction_max_base_units=10**12, daily_max_base_units=10**13),
            wallet_pb2.AssetCap(asset=USDT, per_transaction_max_base_units=10**12, daily_max_base_units=10**13),
        ],
        allowed_kinds=list(range(1, 10)),
        allowed_contracts=[USDT_CONTRACT],
        max_fee_limit_sun=100_000_000,
    )
    for name, value in changes.items():
        policy.ClearField(name)
        if isinstance(value, list):
            getattr(policy, name).extend(value)
        else:
            setattr(policy, name, value)
    return policy


def trx_caps(per_transaction: int, daily: int) -> wallet_pb2.SpendPolicy:
    """generous_policy with TRX the only asset, capped as told."""
    return generous_policy(
        caps=[wallet_pb2.AssetCap(asset=TRX, per_transaction_max_base_units=per_transaction, daily_max_base_units=daily)]
    )


async def create_hd(stub: wallet_pb2_grpc.WalletServiceStub, **wallet: Any) -> wallet_pb2.Wallet:
    wallet.setdefault("spend_policy", generous_policy())
    response = await stub.CreateWallet(
        wallet_pb2.CreateWalletRequest(request_id=str(uuid.uuid4()), wallet=wallet_pb2.Wallet(**wallet))
    )
    return response.wallet


async def create_watch_only(stub: wallet_pb2_grpc.WalletServiceStub) -> wallet_pb2.Wallet:
    """A watch-only wallet of RECIPIENT: nothing to derive, nothing to sign."""
    response = await stub.CreateWallet(
        wallet_pb2.CreateWalletRequest(
            request_id=str(uuid.uuid4()),
            wallet=wallet_pb2.Wallet(kind=wallet_pb2.WALLET_KIND_WATCH_ONLY, first_address=RECIPIENT),
        )
    )
    return response.wallet


def raw_data(contract: protocol.Transaction.Contract, *, fee_limit_sun: int = 0, memo: bytes = b"",
             expiration_ms: int | None = None) -> bytes:
    """raw_data of `contract`, expiring a minute from now unless told."""
    now = int(time.time() * 1000)
    expiration_ms = now + 60_000 if expiration_ms is None else expiration_ms
    tx = build_transaction(
        contract,
        ref_block_number=1000,
        ref_block_id=make_block_id(1000, bytes(32)),
        expiration_ms=expiration_ms,
        timestamp_ms=min(now, expiration_ms - 1),
        fee_limit_sun=fee_limit_sun,
        memo=memo,
    )
    return tx.raw_data.SerializeToString(deterministic=True)


def trx_transfer(owner: str, amount: int, **options: Any) -> tuple[bytes, wallet_pb2.TransactionIntent]:
    """raw_data of a TRX transfer to RECIPIENT and the intent that matches it."""
    intent = wallet_pb2.TransactionIntent(
        kind=K.TRANSACTION_KIND_TRX_TRANSFER, owner_address=owner, recipient_address=RECIPIENT, asset=TRX,
        amount_base_units=amount,
    )
    return raw_data(transfer_contract(owner, RECIPIENT, amount), **options), intent


def usdt_transfer(owner: str, amount: int, fee_limit_sun: int = 30_000_000) -> tuple[bytes, wallet_pb2.TransactionIntent]:
    intent = wallet_pb2.TransactionIntent(
        kind=K.TRANSACTION_KIND_TRC20_TRANSFER, owner_address=owner, recipient_address=RECIPIENT, asset=USDT,
        amount_base_units=amount, fee_limit_sun=fee_limit_sun,
    )
    return raw_data(trc20_transfer(owner, USDT_CONTRACT, RECIPIENT, amount), fee_limit_sun=fee_limit_sun), intent


def sign_request(wallet_id: str, raw: bytes, intent: wallet_pb2.TransactionIntent, **fields: Any
                 ) -> wallet_pb2.SignTransactionRequest:
    return wallet_pb2.SignTransactionRequest(wallet_id=wallet_id, raw_data=raw, intent=intent, **fields)

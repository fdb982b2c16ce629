"""wallet-manager as a deployment runs it (`python -m lucid_tron.services.wallet_manager`): its master secret, and
MongoDB going away under it."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest

from fixtures.rpc_errors import error_reason
from fixtures.service_processes import run_to_exit, start_service_process
from integration.wallet_manager.wallet_kit import USDT_CONTRACT, create_hd, wallet_manager
from lucid.tron.v1 import wallet_pb2, wallet_pb2_grpc
from lucid_tron.keys import MasterSecret
from lucid_tron.mesh import EXIT_CONFIG
from lucid_tron.storage import connect_mongo
from lucid_tron.testing import MongoServer

MODULE = "lucid_tron.services.wallet_manager"


async def snapshot(mongo_url: str, database: str) -> dict[str, list[dict[str, Any]]]:
    client, db = connect_mongo(mongo_url, database, app_name="snapshot")
    try:
        return {name: await db[name].find().sort("_id").to_list() for name in sorted(await db.list_collection_names())}
    finally:
        await client.close()


async def test_a_wrong_master_secret_exits_78_naming_the_problem_and_touches_nothing(
    mongo_url: str, tmp_path: Path
) -> None:
    database = f"wallet_{uuid.uuid4().hex[:12]}"
    right, wrong = tmp_path / "right", tmp_path / "wrong"
    MasterSecret.create_file(right)
    MasterSecret.create_file(wrong)
    env = {"MONGO_URL": mongo_url, "MONGO_DATABASE": database, "USDT_CONTRACT": USDT_CONTRACT}
    service = await start_service_process(MODULE, tmp_path, ENCRYPTION_KEY_FILE=str(right), **env)
    async with grpc.aio.insecure_channel(service.address) as channel:
        await create_hd(wallet_pb2_grpc.WalletServiceStub(channel))
    assert await service.stop() == 0
    before = await snapshot(mongo_url, database)

    code, stderr = await run_to_exit(MODULE, tmp_path, ENCRYPTION_KEY_FILE=str(wrong), **env)

    assert code == EXIT_CONFIG
    assert "ENCRYPTION_KEY_FILE does not hold this install's master secret" in stderr
    assert await snapshot(mongo_url, database) == before


async def test_a_missing_master_secret_file_exits_78_naming_the_setting(mongo_url: str, tmp_path: Path) -> None:
    code, stderr = await run_to_exit(
        MODULE, tmp_path, MONGO_URL=mongo_url, USDT_CONTRACT=USDT_CONTRACT,
        ENCRYPTION_KEY_FILE=str(tmp_path / "absent"),
    )

    assert code == EXIT_CONFIG
    assert "ENCRYPTION_KEY_FILE" in stderr and "does not exist" in stderr


async def test_mongodb_down_answers_unavailable_within_the_deadline(tmp_path: Path) -> None:
    async with MongoServer() as mongo, wallet_manager(mongo.url, tmp_path) as running:
        wallet = await create_hd(running.stub)
        mongo.kill()

        for call in (
            lambda: running.stub.GetWallet(wallet_pb2.GetWalletRequest(wallet_id=wallet.wallet_id), timeout=5),
            lambda: running.stub.DeriveAddress(wallet_pb2.DeriveAddressRequest(wallet_id=wallet.wallet_id), timeout=5),
        ):
            started = time.monotonic()
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call()
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE, refused.value.details()
            assert error_reason(refused.value) == "MONGO_UNAVAILABLE"
            assert time.monotonic() - started < 5

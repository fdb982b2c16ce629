"""tron-client or wallet-manager down: payouts wait (nothing signed twice, nothing lost) and resume once it is back."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import grpc

from fixtures.service_processes import DEVNET_WITHOUT_TOR_FIELDS
from integration.payout_router.payout_kit import CONFIRMED, FAST, USDT, recipient, tronpy_client, usdt_balance
from integration.wallet_manager.wallet_kit import create_hd, generous_policy, master_key_file, wallet_manager
from lucid.tron.v1 import payout_router_pb2 as pr
from lucid.tron.v1 import payout_router_pb2_grpc
from lucid_tron.devnet import Devnet
from lucid_tron.mesh import serving
from lucid_tron.services.payout_router.__main__ import PayoutRouterSettings
from lucid_tron.services.payout_router.__main__ import build as build_router
from lucid_tron.services.tron_client.__main__ import TronClientSettings
from lucid_tron.services.tron_client.__main__ import build as build_tron_client
from lucid_tron.testing import free_port

#: Long enough for several executor rounds (0.2 s each) to find the dependency down.
DOWN_S = 3.0


def tron_client_settings(devnet: Devnet, port: int) -> TronClientSettings:
    return TronClientSettings(port=port, insecure_plaintext=True, trongrid_url=devnet.url, trongrid_timeout_s=5.0,
                              **DEVNET_WITHOUT_TOR_FIELDS)


def router_settings(mongo_url: str, redis_url: str, devnet: Devnet, tron_port: int, wallet_port: int,
                    wallet_id: str) -> PayoutRouterSettings:
    return PayoutRouterSettings(
        port=0, insecure_plaintext=True, mongo_url=mongo_url, mongo_database=f"payout_{uuid.uuid4().hex[:12]}",
        redis_url=redis_url, tron_client_addr=f"127.0.0.1:{tron_port}", wallet_manager_addr=f"127.0.0.1:{wallet_port}",
        usdt_contract=devnet.usdt_address, payout_wallet_id=wallet_id, dependency_check_interval_s=5.0, **FAST,
    )


async def test_a_payout_waits_for_tron_client_and_is_paid_once_it_is_back(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    to = recipient()
    tron_port = free_port()
    async with wallet_manager(mongo_url, tmp_path, usdt_contract=chain.usdt_address) as wallet:
        created = await create_hd(wallet.stub, spend_policy=generous_policy(allowed_contracts=[chain.usdt_address]))
        chain.fund(created.first_address, trx_sun=1_000_000_000, usdt_units=10_000_000)
        settings = router_settings(mongo_url, redis_url, chain, tron_port, int(wallet.server.address.rsplit(":")[1]),
                                   created.wallet_id)
        async with serving(build_router(settings), settings) as router, \
                grpc.aio.insecure_channel(router.address) as channel:
            stub = payout_router_pb2_grpc.PayoutRouterServiceStub(channel)
            payout = (await stub.CreatePayout(pr.CreatePayoutRequest(
                request_id="dep-1", payout=pr.Payout(recipient=to, asset=USDT, amount_base_units=1_000_000)))).payout
            await asyncio.sleep(DOWN_S)
            waiting = (await stub.GetPayout(pr.GetPayoutRequest(payout_id=payout.payout_id))).payout
            tron = tron_client_settings(chain, tron_port)
            async with serving(build_tron_client(tron), tron):
                done = await _wait_for(stub, payout.payout_id, CONFIRMED)
    async with tronpy_client(chain) as client:
        assert await usdt_balance(client, chain, to) == 1_000_000
    assert waiting.state == pr.PAYOUT_STATE_APPROVED and not waiting.attempts
    assert len(done.attempts) == 1


async def test_a_payout_waits_for_wallet_manager_and_is_paid_once_it_is_back(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    to = recipient()
    wallet_port = free_port()
    database = f"wallet_{uuid.uuid4().hex[:12]}"
    key_file = master_key_file(tmp_path)
    async with wallet_manager(mongo_url, tmp_path, database=database, key_file=key_file,
                              usdt_contract=chain.usdt_address) as wallet:
        created = await create_hd(wallet.stub, spend_policy=generous_policy(allowed_contracts=[chain.usdt_address]))
    chain.fund(created.first_address, trx_sun=1_000_000_000, usdt_units=10_000_000)
    tron_port = free_port()
    tron = tron_client_settings(chain, tron_port)
    settings = router_settings(mongo_url, redis_url, chain, tron_port, wallet_port, created.wallet_id)
    async with serving(build_tron_client(tron), tron), serving(build_router(settings), settings) as router, \
            grpc.aio.insecure_channel(router.address) as channel:
        stub = payout_router_pb2_grpc.PayoutRouterServiceStub(channel)
        payout = (await stub.CreatePayout(pr.CreatePayoutRequest(
            request_id="dep-2", payout=pr.Payout(recipient=to, asset=USDT, amount_base_units=2_000_000)))).payout
        await asyncio.sleep(DOWN_S)
        waiting = (await stub.GetPayout(pr.GetPayoutRequest(payout_id=payout.payout_id))).payout
        async with wallet_manager(mongo_url, tmp_path, database=database, key_file=key_file, port=wallet_port,
                                  usdt_contract=chain.usdt_address):
            done = await _wait_for(stub, payout.payout_id, CONFIRMED)
    async with tronpy_client(chain) as client:
        assert await usdt_balance(client, chain, to) == 2_000_000
    assert waiting.state == pr.PAYOUT_STATE_APPROVED and not waiting.attempts
    assert len(done.attempts) == 1


async def _wait_for(stub, payout_id: str, state: int, timeout_s: float = 90.0) -> pr.Payout:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        payout = (await stub.GetPayout(pr.GetPayoutRequest(payout_id=payout_id))).payout
        if payout.state == state:
            return payout
        assert loop.time() < deadline, f"payout is {pr.PayoutState.Name(payout.state)} after {timeout_s} s"
        await asyncio.sleep(0.25)

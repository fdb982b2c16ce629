"""payout-router with everything it calls, in the test's process: a devnet producing blocks, tron-client and
wallet-manager in front of it, and a payout wallet funded from devnet, each served over real gRPC on loopback.

    async with payout_stack(mongo_url, redis_url, tmp_path, devnet) as stack:
        payout = await stack.create(amount=1_000_000)             # CreatePayout, USDT by default
        done = await stack.wait_for(payout.payout_id, CONFIRMED)  # polls GetPayout

The chain is checked with unmodified tronpy (`usdt_balance`, `trx_balance`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from tronpy import AsyncTron
from tronpy.providers.async_http import AsyncHTTPProvider

from integration.tron_client.tron_client_kit import RunningClient, start_tron_client
from integration.wallet_manager.wallet_kit import Running as RunningWallet
from integration.wallet_manager.wallet_kit import create_hd, generous_policy, wallet_manager
from lucid.tron.v1 import common_pb2, wallet_pb2
from lucid.tron.v1 import payout_router_pb2 as pr
from lucid.tron.v1 import payout_router_pb2_grpc
from lucid_tron.devnet import Devnet
from lucid_tron.mesh import MeshServer, serving
from lucid_tron.services.payout_router.__main__ import PayoutRouterSettings, build, executor
from lucid_tron.services.payout_router.store import PayoutRouterStore

USDT = common_pb2.ASSET_USDT
TRX = common_pb2.ASSET_TRX
CONFIRMED = pr.PAYOUT_STATE_CONFIRMED
PAYOUT_WALLET_TRX_SUN = 5_000_000_000
PAYOUT_WALLET_USDT_UNITS = 100_000_000_000
#: Settings that make the tests quick: short-lived transactions, an executor that looks often.
FAST = {"payout_expiration_s": 15.0, "payout_executor_interval_s": 0.2, "payout_executor_lease_s": 3.0}


def recipient() -> str:
    """A fresh address nobody has paid yet."""
    from lucid_tron.chain import PrivateKey

    return PrivateKey(uuid.uuid4().bytes * 2).address


@dataclass
class PayoutStack:
    devnet: Devnet
    tron_client: RunningClient
    wallet: RunningWallet
    wallet_id: str
    payer: str
    settings: PayoutRouterSettings
    server: MeshServer | None
    channel: grpc.aio.Channel | None
    stub: payout_router_pb2_grpc.PayoutRouterServiceStub

    async def create(self, *, amount: int, asset: int = USDT, to: str | None = None, request_id: str | None = None,
                     reference: str = "") -> pr.Payout:
        response = await self.stub.CreatePayout(pr.CreatePayoutRequest(
            request_id=request_id or str(uuid.uuid4()),
            payout=pr.Payout(recipient=to or recipient(), asset=asset, amount_base_units=amount, reference=reference),
        ))
        return response.payout

    async def get(self, payout_id: str) -> pr.Payout:
        return (await self.stub.GetPayout(pr.GetPayoutRequest(payout_id=payout_id))).payout

    async def wait_for(self, payout_id: str, state: int, timeout_s: float = 90.0) -> pr.Payout:
        """The payout once it reaches `state` (polled; generous for a loaded machine)."""
        deadline = time.monotonic() + timeout_s
        while True:
            payout = await self.get(payout_id)
            if payout.state == state:
                return payout
            if time.monotonic() > deadline:
                raise AssertionError(f"payout {payout_id} is {pr.PayoutState.Name(payout.state)}, "
                                     f"not {pr.PayoutState.Name(state)}, after {timeout_s} s")
            await asyncio.sleep(0.25)

    def router_settings(self, **changes: Any) -> PayoutRouterSettings:
        values = {field: getattr(self.settings, field) for field in self.settings.__dataclass_fields__}
        return PayoutRouterSettings(**{**values, **changes})


@asynccontextmanager
async def payout_stack(
    mongo_url: str, redis_url: str, directory: Path, devnet: Devnet, *, serve_router: bool = True,
    spend_policy: wallet_pb2.SpendPolicy | None = None, **settings: Any
) -> AsyncIterator[PayoutStack]:
    """The stack; `spend_policy` is the payout wallet's (default: generous, with devnet's USDT contract)."""
    async with AsyncExitStack() as stack:
        tron = await stack.enter_async_context(start_tron_client(devnet))
        wallet = await stack.enter_async_context(
            wallet_manager(mongo_url, directory, usdt_contract=devnet.usdt_address)
        )
        policy = spend_policy or generous_policy(allowed_contracts=[devnet.usdt_address])
        created = await create_hd(wallet.stub, spend_policy=policy)
        devnet.fund(created.first_address, trx_sun=PAYOUT_WALLET_TRX_SUN, usdt_units=PAYOUT_WALLET_USDT_UNITS)
        router_settings = PayoutRouterSettings(**{
            "port": 0,
            "insecure_plaintext": True,
            "mongo_url": mongo_url,
            "mongo_database": f"payout_{uuid.uuid4().hex[:12]}",
            "redis_url": redis_url,
            "tron_client_addr": tron.server.address,
            "wallet_manager_addr": wallet.server.address,
            "usdt_contract": devnet.usdt_address,
            "payout_wallet_id": created.wallet_id,
            "dependency_check_interval_s": 5.0,
            **FAST,
            **settings,
        })
        server = channel = None
        stub: Any = None
        if serve_router:
            server = await stack.enter_async_context(serving(build(router_settings), router_settings))
            channel = await stack.enter_async_context(grpc.aio.insecure_channel(server.address))
            stub = payout_router_pb2_grpc.PayoutRouterServiceStub(channel)
        yield PayoutStack(devnet, tron, wallet, created.wallet_id, created.first_address, router_settings, server,
                          channel, stub)


@asynccontextmanager
async def tronpy_client(devnet: Devnet) -> AsyncIterator[AsyncTron]:
    """Unmodified tronpy against devnet (no API key: the URL does not name TronGrid)."""
    async with AsyncTron(AsyncHTTPProvider(devnet.url, api_key=None)) as client:
        yield client


async def usdt_balance(client: AsyncTron, devnet: Devnet, address: str) -> int:
    """The USDT balance at devnet's head, read by tronpy through the contract's balanceOf."""
    contract = await client.get_contract(devnet.usdt_address)
    return int(await contract.functions.balanceOf(address))



@asynccontextmanager
async def running_executor(settings: PayoutRouterSettings) -> AsyncIterator[None]:
    """payout-router's executor alone, in this process, on `settings` (the router answering RPCs may then be
    another one on the same database, e.g. over mutual TLS while the stack's peers are plaintext)."""
    store = PayoutRouterStore(settings)
    await store.open()
    tron_client, wallet_manager = settings.tron_client(), settings.wallet_manager()
    task = asyncio.create_task(executor(settings, store, tron_client, wallet_manager).run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await tron_client.close()
        await wallet_manager.close()
        await store.close()

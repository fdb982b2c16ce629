"""staking's energy plans on a real chain: a devnet in manual mode, tron-client in front of it, a wallet-manager whose
HD wallet is the staking wallet (100,000 TRX staked for energy, signed by wallet-manager), and staking, all built in
the test's process and served over real gRPC on loopback (plaintext: mutual TLS is the mesh's, tested in its own
suite). Senders are keys the test holds: they sign their USDT transfers themselves, as any caller of the plan would.

    async with energy_stack(devnet, mongo_url, tmp_path) as stack:
        sender = stack.sender()
        plan = await stack.create_plan(sender.address, recipient, 1_000_000)    # produces the blocks it waits for
        txid = await stack.send_usdt(sender, recipient, 1_000_000, fee_limit_sun=plan.fee_limit_sun)
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from pymongo import AsyncMongoClient

from fixtures.service_processes import DEVNET_WITHOUT_TOR_FIELDS
from fixtures.transactions import signed
from integration.wallet_manager.wallet_kit import create_hd, generous_policy, wallet_manager
from lucid.tron.v1 import common_pb2, staking_pb2, staking_pb2_grpc, tron_client_pb2, tron_client_pb2_grpc, wallet_pb2
from lucid_tron.chain import PrivateKey, build_transaction, freeze_balance_v2, trc20_transfer, txid
from lucid_tron.devnet import Devnet
from lucid_tron.mesh import MeshServer, serving
from lucid_tron.services.staking.__main__ import StakingSettings, build
from lucid_tron.services.tron_client.__main__ import TronClientSettings, build as build_tron_client

#: The staking wallet: 200,000 TRX, of which STAKED_SUN is staked for energy (about 10 energy per TRX on devnet).
STAKING_TRX_SUN = 200_000_000_000
STAKED_SUN = 100_000_000_000
T = TypeVar("T")


def fresh_key(label: str = "") -> PrivateKey:
    return PrivateKey(hashlib.sha256(f"staking test {label} {uuid.uuid4()}".encode()).digest())


@dataclass
class EnergyStack:
    server: MeshServer
    stub: staking_pb2_grpc.StakingServiceStub
    chain: tron_client_pb2_grpc.TronClientServiceStub
    wallet: Any
    devnet: Devnet
    #: The staking wallet's first address, which lends energy.
    staking_address: str
    mongo_url: str
    #: staking's MongoDB database.
    database: str

    def sender(self, *, trx_sun: int = 100_000_000, usdt: int = 100_000_000) -> PrivateKey:
        """A fresh key whose address is activated with `trx_sun` and holds `usdt` base units."""
        key = fresh_key("sender")
        self.devnet.fund(key.address, trx_sun=trx_sun, usdt_units=usdt)
        return key

    def holder(self) -> str:
        """A fresh activated address that already holds USDT (a transfer to it costs about 64,285 energy)."""
        address = fresh_key("holder").address
        self.devnet.fund(address, trx_sun=1_000_000, usdt_units=1)
        return address

    async def produce_while(self, work: Awaitable[T]) -> T:
        """Run `work`, putting what it broadcasts into blocks as it goes (devnet is in manual mode)."""
        task = asyncio.ensure_future(work)
        while not task.done():
            if self.devnet.chain.pending_txids:
                self.devnet.produce_block()
            await asyncio.sleep(0.02)
        return await task

    def plan_request(self, sender: str, recipient: str, amount: int, **fields: Any) -> staking_pb2.CreateEnergyPlanRequest:
        fields.setdefault("request_id", str(uuid.uuid4()))
        return staking_pb2.CreateEnergyPlanRequest(
            sender_address=sender, recipient_address=recipient, amount_base_units=amount, **fields
        )

    async def create_plan(self, sender: str, recipient: str, amount: int, **fields: Any) -> staking_pb2.EnergyPlan:
        request = self.plan_request(sender, recipient, amount, **fields)
        return (await self.produce_while(self.stub.CreateEnergyPlan(request))).plan

    async def complete_plan(self, plan_id: str, transfer_txid: str = "") -> staking_pb2.EnergyPlan:
        request = staking_pb2.CompleteEnergyPlanRequest(plan_id=plan_id, transfer_txid=transfer_txid)
        return (await self.stub.CompleteEnergyPlan(request)).plan

    async def get_plan(self, plan_id: str) -> staking_pb2.EnergyPlan:
        return (await self.stub.GetEnergyPlan(staking_pb2.GetEnergyPlanRequest(plan_id=plan_id))).plan

    async def released(self, plan_id: str) -> staking_pb2.EnergyPlan:
        """The plan once its undelegation is in a block (blocks produced meanwhile)."""
        while True:
            self.devnet.produce_block()
            plan = await self.get_plan(plan_id)
            if plan.state == staking_pb2.ENERGY_PLAN_STATE_COMPLETED:
                return plan
            await asyncio.sleep(0.05)

    def send_usdt(self, sender: PrivateKey, to: str, amount: int, *, fee_limit_sun: int) -> str:
        """A USDT transfer signed by `sender`, put into the next block; its txid."""
        tx = signed(self.devnet, sender, trc20_transfer(sender.address, self.devnet.usdt_address, to, amount),
                    fee_limit_sun=fee_limit_sun)
        _accepted(self.devnet, tx)
        sent = txid(tx).hex()
        assert sent in self.devnet.produce_block().txids
        return sent

    async def resources(self, address: str) -> common_pb2.AccountResources:
        answer = await self.chain.GetAccountResources(tron_client_pb2.GetAccountResourcesRequest(address=address))
        return answer.resources

    async def receipt(self, txid: str) -> common_pb2.TransactionReceipt:
        answer = await self.chain.GetTransactionInfo(
            tron_client_pb2.GetTransactionInfoRequest(txid=txid, finality=common_pb2.FINALITY_HEAD)
        )
        return answer.receipt

    async def collection(self, name: str) -> list[dict[str, Any]]:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self.mongo_url)
        try:
            return await client[self.database][name].find().to_list()
        finally:
            await client.close()


def stake_own_energy(devnet: Devnet, key: PrivateKey, amount_sun: int) -> None:
    """`key` stakes `amount_sun` for energy itself (no wallet-manager: the test holds the key)."""
    _accepted(devnet, signed(devnet, key, freeze_balance_v2(key.address, amount_sun, "ENERGY")))
    devnet.produce_block()


async def _stake_staking_wallet(devnet: Devnet, wallet: Any, wallet_id: str, owner: str) -> None:
    """The staking wallet stakes STAKED_SUN for energy, signed by wallet-manager against its intent."""
    head, now_ms = devnet.chain.head, int(time.time() * 1000)
    tx = build_transaction(
        freeze_balance_v2(owner, STAKED_SUN, "ENERGY"),
        ref_block_number=head.number, ref_block_id=head.id, expiration_ms=now_ms + 60_000, timestamp_ms=now_ms,
    )
    raw_data = tx.raw_data.SerializeToString(deterministic=True)
    intent = wallet_pb2.TransactionIntent(
        kind=wallet_pb2.TRANSACTION_KIND_FREEZE_BALANCE_V2, owner_address=owner, asset=common_pb2.ASSET_TRX,
        amount_base_units=STAKED_SUN, resource=common_pb2.RESOURCE_ENERGY,
    )
    answer = await wallet.SignTransaction(
        wallet_pb2.SignTransactionRequest(wallet_id=wallet_id, raw_data=raw_data, intent=intent)
    )
    tx.signature.append(answer.signature)
    _accepted(devnet, tx)
    devnet.produce_block()


def _accepted(devnet: Devnet, tx: Any) -> None:
    result = devnet.chain.broadcast(tx)
    assert result.ok, result


@asynccontextmanager
async def energy_stack(devnet: Devnet, mongo_url: str, directory: Any, **values: Any) -> AsyncIterator[EnergyStack]:
    """The whole stack; `values` override StakingSettings fields (ENERGY_*, KEEPER_*, ...)."""
    async with AsyncExitStack() as stack:
        wallet = await stack.enter_async_context(
            wallet_manager(mongo_url, directory, usdt_contract=devnet.usdt_address)
        )
        hd = await create_hd(wallet.stub, spend_policy=generous_policy(allowed_contracts=[devnet.usdt_address]))
        devnet.fund(hd.first_address, trx_sun=STAKING_TRX_SUN)
        await _stake_staking_wallet(devnet, wallet.stub, hd.wallet_id, hd.first_address)
        chain = {"port": 0, "insecure_plaintext": True, "trongrid_url": devnet.url, "trongrid_timeout_s": 5.0,
                 **DEVNET_WITHOUT_TOR_FIELDS}
        client_settings = TronClientSettings(**chain)
        client = await stack.enter_async_context(serving(build_tron_client(client_settings), client_settings))
        fields: dict[str, Any] = {
            "port": 0,
            "mongo_url": mongo_url,
            "mongo_database": f"staking_{uuid.uuid4().hex[:12]}",
            "tron_client_addr": client.address,
            "wallet_manager_addr": wallet.server.address,
            "usdt_contract": devnet.usdt_address,
            "staking_wallet_id": hd.wallet_id,
            "energy_delegation_wait_s": 10.0,
            "dependency_check_interval_s": 5.0,
            "insecure_plaintext": True,
        }
        fields.update(values)
        settings = StakingSettings(**fields)
        server = await stack.enter_async_context(serving(build(settings), settings))
        channel = await stack.enter_async_context(grpc.aio.insecure_channel(server.address))
        chain_channel = await stack.enter_async_context(grpc.aio.insecure_channel(client.address))
        yield EnergyStack(
            server, staking_pb2_grpc.StakingServiceStub(channel),
            tron_client_pb2_grpc.TronClientServiceStub(chain_channel), wallet.stub, devnet, hd.first_address,
            mongo_url, fields["mongo_database"],
        )

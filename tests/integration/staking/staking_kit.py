"""staking on a real chain: a devnet in manual mode (unstakes wait UNFREEZE_DELAY_S), tron-client in front of it, a
wallet-manager with a funded HD wallet, and staking calling the two, all built in the test's process and served over
real gRPC on loopback (plaintext: mutual TLS is the mesh's, tested in its own suite).

    async with staking_stack(devnet, mongo_url, tmp_path) as stack:
        sent = await stack.stub.FreezeBalance(stack.freeze(ENERGY, 10 * TRX))
        stack.settle()
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from fixtures.pki import tls_fields
from fixtures.service_processes import DEVNET_WITHOUT_TOR_FIELDS
from integration.usdt_manager.usdt_kit import fresh_address
from integration.wallet_manager.wallet_kit import create_hd, generous_policy, wallet_manager
from lucid.tron.v1 import common_pb2, staking_pb2, staking_pb2_grpc, wallet_pb2_grpc
from lucid_tron.devnet import Devnet
from lucid_tron.mesh import MeshServer, serving
from lucid_tron.pki import PkiDirectory, channel_credentials
from lucid_tron.services.staking.__main__ import StakingSettings, build
from lucid_tron.services.tron_client.__main__ import TronClientSettings, build as build_tron_client

TRX = 1_000_000
#: What the owner starts with: 10,000 TRX.
OWNER_TRX_SUN = 10_000 * TRX
#: How long devnet's unstakes wait here (mainnet: 14 days).
UNFREEZE_DELAY_S = 3.0
ENERGY = common_pb2.RESOURCE_ENERGY
BANDWIDTH = common_pb2.RESOURCE_BANDWIDTH


@dataclass
class StakingStack:
    server: MeshServer
    stub: staking_pb2_grpc.StakingServiceStub
    devnet: Devnet
    wallet_id: str
    #: The wallet's first address, funded with OWNER_TRX_SUN.
    owner: str
    #: staking's MongoDB and its database.
    mongo_url: str
    database: str

    def _write(self, message: Any, **fields: Any) -> Any:
        fields.setdefault("request_id", str(uuid.uuid4()))
        fields.setdefault("wallet_id", self.wallet_id)
        fields.setdefault("owner_address", self.owner)
        return message(**fields)

    def freeze(self, resource: int, amount_sun: int, **fields: Any) -> staking_pb2.FreezeBalanceRequest:
        return self._write(staking_pb2.FreezeBalanceRequest, resource=resource, amount_sun=amount_sun, **fields)

    def unfreeze(self, resource: int, amount_sun: int, **fields: Any) -> staking_pb2.UnfreezeBalanceRequest:
        return self._write(staking_pb2.UnfreezeBalanceRequest, resource=resource, amount_sun=amount_sun, **fields)

    def delegate(self, receiver: str, resource: int, amount_sun: int, **fields: Any) -> Any:
        return self._write(staking_pb2.DelegateResourceRequest, receiver_address=receiver, resource=resource,
                           amount_sun=amount_sun, **fields)

    def undelegate(self, receiver: str, resource: int, amount_sun: int, **fields: Any) -> Any:
        return self._write(staking_pb2.UndelegateResourceRequest, receiver_address=receiver, resource=resource,
                           amount_sun=amount_sun, **fields)

    def withdraw(self, **fields: Any) -> staking_pb2.WithdrawExpireUnfreezeRequest:
        return self._write(staking_pb2.WithdrawExpireUnfreezeRequest, **fields)

    def cancel_all(self, **fields: Any) -> staking_pb2.CancelAllUnfreezeRequest:
        return self._write(staking_pb2.CancelAllUnfreezeRequest, **fields)

    async def resources(self, address: str | None = None) -> staking_pb2.GetResourcesResponse:
        return await self.stub.GetResources(staking_pb2.GetResourcesRequest(address=address or self.owner))

    def settle(self) -> tuple[str, ...]:
        """Put what is pending into a block; the txids that block carries."""
        return self.devnet.produce_block().txids

    def activated_address(self, label: str = "") -> str:
        """A fresh address with an account (1 TRX)."""
        address = fresh_address(label)
        self.devnet.fund(address, trx_sun=TRX)
        return address


@asynccontextmanager
async def staking_stack(
    devnet: Devnet, mongo_url: str, directory: Path, *, pki: PkiDirectory | None = None, operator: str = "",
    **values: Any,
) -> AsyncIterator[StakingStack]:
    """The whole stack; `values` override StakingSettings fields. With `pki` (service certificates of staking,
    wallet-manager and tron-client issued), every hop is mutual TLS and the stub calls as `operator`."""

    def tls(service: str) -> dict[str, Any]:
        if pki is None:
            return {}
        return {**tls_fields(pki.files("services", service)), "insecure_plaintext": False}

    def operator_channel(server: MeshServer) -> grpc.aio.Channel:
        if pki is None:
            return grpc.aio.insecure_channel(server.address)
        return grpc.aio.secure_channel(server.address, channel_credentials(pki.files("operators", operator).read()))

    async with AsyncExitStack() as stack:
        wallet = await stack.enter_async_context(
            wallet_manager(mongo_url, directory, usdt_contract=devnet.usdt_address, **tls("wallet-manager"))
        )
        wallets = wallet.stub
        if pki is not None:  # the kit's own channel is plaintext: an operator creates the wallet
            wallets = wallet_pb2_grpc.WalletServiceStub(
                await stack.enter_async_context(operator_channel(wallet.server))
            )
        hd = await create_hd(wallets, spend_policy=generous_policy(allowed_contracts=[devnet.usdt_address]))
        devnet.fund(hd.first_address, trx_sun=OWNER_TRX_SUN)
        chain = {"port": 0, "insecure_plaintext": True, "trongrid_url": devnet.url, "trongrid_timeout_s": 5.0,
                 **DEVNET_WITHOUT_TOR_FIELDS}
        client_settings = TronClientSettings(**{**chain, **tls("tron-client")})
        client = await stack.enter_async_context(serving(build_tron_client(client_settings), client_settings))
        fields: dict[str, Any] = {
            "port": 0,
            "mongo_url": mongo_url,
            "mongo_database": f"staking_{uuid.uuid4().hex[:12]}",
            "tron_client_addr": client.address,
            "wallet_manager_addr": wallet.server.address,
            "usdt_contract": devnet.usdt_address,
            "dependency_check_interval_s": 5.0,
            "insecure_plaintext": True,
            **tls("staking"),
            **values,
        }
        settings = StakingSettings(**fields)
        server = await stack.enter_async_context(serving(build(settings), settings))
        channel = await stack.enter_async_context(operator_channel(server))
        yield StakingStack(server, staking_pb2_grpc.StakingServiceStub(channel), devnet, hd.wallet_id,
                           hd.first_address, mongo_url, fields["mongo_database"])

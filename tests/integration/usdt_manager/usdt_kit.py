"""usdt-manager on a real chain: a devnet in manual mode, tron-client and tron-relay in front of it, a wallet-manager
with a funded HD wallet, and usdt-manager calling the three, all built in the test's process and served over real
gRPC on loopback (plaintext: mutual TLS is the mesh's, tested in its own suite).

    async with usdt_stack(devnet, mongo_url, redis_url, tmp_path) as stack:
        sent = await stack.stub.Transfer(stack.transfer_request(HOLDER, 1_000_000))
        stack.devnet.solidify()
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from fixtures.service_processes import DEVNET_WITHOUT_TOR_FIELDS
from integration.wallet_manager.wallet_kit import Running as WalletRunning, create_hd, generous_policy, wallet_manager
from lucid.tron.v1 import usdt_pb2, usdt_pb2_grpc
from lucid_tron.chain import PrivateKey
from lucid_tron.devnet import Devnet
from lucid_tron.mesh import MeshServer, serving
from lucid_tron.services.tron_client.__main__ import TronClientSettings, build as build_tron_client
from lucid_tron.services.tron_relay.__main__ import RelaySettings, build as build_relay
from lucid_tron.services.usdt_manager.__main__ import UsdtManagerSettings, build

#: What the sender starts with: 1,000 TRX and 1,000 USDT.
SENDER_TRX_SUN = 1_000_000_000
SENDER_USDT = 1_000_000_000
#: Nothing listens here.
NOBODY = "127.0.0.1:9"


def fresh_address(label: str = "") -> str:
    """An address nobody has used: no account on chain (not activated), no USDT."""
    return PrivateKey(hashlib.sha256(f"usdt-manager test {label} {uuid.uuid4()}".encode()).digest()).address


@dataclass
class UsdtStack:
    server: MeshServer
    stub: usdt_pb2_grpc.UsdtServiceStub
    devnet: Devnet
    wallet: WalletRunning
    wallet_id: str
    #: The wallet's first address, funded with SENDER_TRX_SUN and SENDER_USDT.
    sender: str
    tron_client_address: str
    relay_address: str
    #: usdt-manager's MongoDB database.
    database: str

    def transfer_request(self, to: str, amount: int, **fields: Any) -> usdt_pb2.TransferRequest:
        fields.setdefault("request_id", str(uuid.uuid4()))
        fields.setdefault("wallet_id", self.wallet_id)
        fields.setdefault("from_address", self.sender)
        return usdt_pb2.TransferRequest(to_address=to, amount_base_units=amount, **fields)

    def settle(self) -> tuple[str, ...]:
        """Put what is pending into a block and solidify it; the txids that block carries."""
        block = self.devnet.produce_block()
        self.devnet.solidify()
        return block.txids

    def activated_address(self, label: str = "", *, usdt: int = 0) -> str:
        """A fresh address with an account (1 TRX), holding `usdt` base units."""
        address = fresh_address(label)
        self.devnet.fund(address, trx_sun=1_000_000, usdt_units=usdt)
        return address


@asynccontextmanager
async def chain_services(devnet: Devnet, redis_url: str) -> AsyncIterator[tuple[MeshServer, MeshServer]]:
    """tron-client and tron-relay in front of `devnet` (Tor off: devnet is on loopback)."""
    chain = {"port": 0, "insecure_plaintext": True, "trongrid_url": devnet.url, "trongrid_timeout_s": 5.0,
             **DEVNET_WITHOUT_TOR_FIELDS}
    client_settings = TronClientSettings(**chain)
    relay_settings = RelaySettings(**chain, redis_url=redis_url)
    async with serving(build_tron_client(client_settings), client_settings) as client, serving(
        build_relay(relay_settings), relay_settings
    ) as relay:
        yield client, relay


@asynccontextmanager
async def usdt_stack(
    devnet: Devnet,
    mongo_url: str,
    redis_url: str,
    directory: Path,
    *,
    tron_client_addr: str | None = None,
    relay_addr: str | None = None,
    wallet_addr: str | None = None,
    **values: Any,
) -> AsyncIterator[UsdtStack]:
    """The whole stack; `tron_client_addr` / `relay_addr` / `wallet_addr` point usdt-manager elsewhere (NOBODY: a
    peer down); `values` override UsdtManagerSettings fields."""
    async with AsyncExitStack() as stack:
        wallet = await stack.enter_async_context(
            wallet_manager(mongo_url, directory, usdt_contract=devnet.usdt_address)
        )
        hd = await create_hd(wallet.stub, spend_policy=generous_policy(allowed_contracts=[devnet.usdt_address]))
        devnet.fund(hd.first_address, trx_sun=SENDER_TRX_SUN, usdt_units=SENDER_USDT)
        client, relay = await stack.enter_async_context(chain_services(devnet, redis_url))
        fields: dict[str, Any] = {
            "port": 0,
            "mongo_url": mongo_url,
            "mongo_database": f"usdt_{uuid.uuid4().hex[:12]}",
            "tron_client_addr": tron_client_addr or client.address,
            "tron_relay_addr": relay_addr or relay.address,
            "wallet_manager_addr": wallet_addr or wallet.server.address,
            "usdt_contract": devnet.usdt_address,
            "dependency_check_interval_s": 5.0,
            "insecure_plaintext": True,
        }
        fields.update(values)
        settings = UsdtManagerSettings(**fields)
        server = await stack.enter_async_context(serving(build(settings), settings))
        channel = await stack.enter_async_context(grpc.aio.insecure_channel(server.address))
        yield UsdtStack(
            server, usdt_pb2_grpc.UsdtServiceStub(channel), devnet, wallet, hd.wallet_id, hd.first_address,
            client.address, relay.address, fields["mongo_database"],
        )

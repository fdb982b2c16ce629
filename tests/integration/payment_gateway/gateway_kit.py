"""payment-gateway built in the test's process on a real SecantusDB and a real Redis, with a real wallet-manager (also
in-process, its own database) deriving the deposit addresses, both served over real gRPC on loopback (in plaintext:
mutual TLS is the mesh's, tested in its own suite). No chain is called: tron-client and tron-relay are never
reached by these RPCs, so their addresses point at a closed port.

    async with gateway(mongo_url, redis_url, tmp_path) as running:
        response = await running.stub.CreateInvoice(create_request())
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from integration.wallet_manager.wallet_kit import USDT_CONTRACT, Running as WalletRunning, create_hd, wallet_manager
from lucid.tron.v1 import common_pb2, payment_gateway_pb2 as pg, payment_gateway_pb2_grpc
from lucid_tron.mesh import MeshServer, serving
from lucid_tron.services.payment_gateway.__main__ import PaymentGatewaySettings, build

TRX = common_pb2.ASSET_TRX
USDT = common_pb2.ASSET_USDT
#: Nothing listens here: the RPCs under test never call tron-client or tron-relay.
NOBODY = "127.0.0.1:9"


@dataclass
class Gateway:
    server: MeshServer
    stub: payment_gateway_pb2_grpc.PaymentGatewayServiceStub
    wallet: WalletRunning
    wallet_id: str
    database: str


@asynccontextmanager
async def gateway(
    mongo_url: str,
    redis_url: str,
    directory: Path,
    *,
    wallet_addr: str | None = None,
    gateway_mongo_url: str | None = None,
    database: str | None = None,
    **values: Any,
) -> AsyncIterator[Gateway]:
    """`wallet_addr` and `gateway_mongo_url` point the gateway elsewhere than its wallet-manager and its SecantusDB
    (at a closed port, to test an outage); `database` is the gateway's (a fresh one by default)."""
    async with wallet_manager(mongo_url, directory) as wallet:
        hd = await create_hd(wallet.stub)
        database = database or f"gateway_{uuid.uuid4().hex[:12]}"
        fields: dict[str, Any] = {
            "port": 0,
            "mongo_url": gateway_mongo_url or mongo_url,
            "mongo_database": database,
            "redis_url": redis_url,
            "tron_client_addr": NOBODY,
            "tron_relay_addr": NOBODY,
            "wallet_manager_addr": wallet_addr or wallet.server.address,
            "usdt_contract": USDT_CONTRACT,
            "payment_wallet_id": hd.wallet_id,
            "tron_network": "devnet",
            "dependency_check_interval_s": 5.0,
            "insecure_plaintext": True,
        }
        settings = PaymentGatewaySettings(**{**fields, **values})
        async with serving(build(settings), settings) as server, grpc.aio.insecure_channel(server.address) as channel:
            yield Gateway(server, payment_gateway_pb2_grpc.PaymentGatewayServiceStub(channel), wallet, hd.wallet_id,
                          database)


def create_request(**fields: Any) -> pg.CreateInvoiceRequest:
    """A valid USDT invoice of 12.5 USDT for 15 minutes unless told otherwise."""
    fields.setdefault("request_id", str(uuid.uuid4()))
    fields.setdefault("asset", USDT)
    fields.setdefault("amount_base_units", 12_500_000)
    return pg.CreateInvoiceRequest(**fields)

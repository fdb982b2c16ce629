"""payout-router over mutual TLS, for the tests of decisions that need the caller's identity (four eyes, an
operator's FAILED, roles): operators alice and bob with their own certificates (the `operators` fixture of conftest).

    async with router(mongo_url, redis_url, pki) as address:
        channel, alice = stub(address, files[ALICE])
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc

from fixtures.pki import tls_fields
from lucid.tron.v1 import payout_router_pb2_grpc
from lucid_tron.mesh import serving
from lucid_tron.pki import PkiDirectory, TlsFiles
from lucid_tron.services.payout_router.__main__ import PayoutRouterSettings, build

ALICE = "spiffe://lucid/operator/alice"
BOB = "spiffe://lucid/operator/bob"
USDT_CONTRACT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"


def issue_operators(pki: PkiDirectory) -> dict[str, TlsFiles]:
    pki.init_ca()
    pki.issue_service("payout-router")
    return {ALICE: pki.issue_operator("alice"), BOB: pki.issue_operator("bob")}


@asynccontextmanager
async def router(mongo_url: str, redis_url: str, pki: PkiDirectory, **settings: Any) -> AsyncIterator[str]:
    """payout-router over mutual TLS with the mesh's ACL; no payout wallet, so nothing is signed. Payouts above
    1 USDT need an approver."""
    router_settings = PayoutRouterSettings(**{
        "port": 0, "mongo_url": mongo_url, "mongo_database": f"payout_{uuid.uuid4().hex[:12]}",
        "redis_url": redis_url, "tron_client_addr": "127.0.0.1:9", "wallet_manager_addr": "127.0.0.1:9",
        "usdt_contract": USDT_CONTRACT, "approval_threshold_usdt_base_units": 1_000_000,
        "dependency_check_interval_s": 5.0, **tls_fields(pki.files("services", "payout-router")), **settings,
    })
    async with serving(build(router_settings), router_settings) as server:
        yield server.address


def stub(address: str, files: TlsFiles) -> tuple[grpc.aio.Channel, payout_router_pb2_grpc.PayoutRouterServiceStub]:
    credentials = grpc.ssl_channel_credentials(files.ca.read_bytes(), files.key.read_bytes(),
                                               files.certificate.read_bytes())
    channel = grpc.aio.secure_channel(address, credentials, options=[("grpc.ssl_target_name_override", "localhost")])
    return channel, payout_router_pb2_grpc.PayoutRouterServiceStub(channel)


@asynccontextmanager
async def alice_and_bob(
    address: str, files: dict[str, TlsFiles]
) -> AsyncIterator[tuple[payout_router_pb2_grpc.PayoutRouterServiceStub, payout_router_pb2_grpc.PayoutRouterServiceStub]]:
    """Clients of the operators alice (who creates, in the tests) and bob (who decides)."""
    alice_channel, alice = stub(address, files[ALICE])
    bob_channel, bob = stub(address, files[BOB])
    async with alice_channel, bob_channel:
        yield alice, bob

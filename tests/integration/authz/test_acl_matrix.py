"""The proof: every (caller principal x method) under the shipped policies, in the service and through the sidecar.

The methods are every method of the seven services' generated descriptors, plus server reflection; the callers are
the seven services, beta-sidecar, an operator and a mesh member the policies do not name. What each may do is
written below as the issue states it (`may_call`), independently of the policy files, and each pair is called over
real mTLS: the call is allowed when it reaches the handler (any status but PERMISSION_DENIED; the stubbed services
answer UNIMPLEMENTED). Through the sidecar, a call must pass the border policy for its caller and then the mesh
policy of wallet-manager for the sidecar.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from integration.authz.acl_kit import OPERATOR, MeshTls, service
from lucid.tron.v1 import (
    payment_gateway_pb2_grpc,
    payout_router_pb2_grpc,
    relay_pb2_grpc,
    staking_pb2_grpc,
    treasury_pb2_grpc,
    tron_client_pb2_grpc,
    usdt_pb2_grpc,
    wallet_pb2_grpc,
    webhooks_pb2_grpc,
)
from lucid_tron.mesh import MeshServer, Registration, ServiceSettings, ServiceSpec, serving
from lucid_tron.services.beta_sidecar.__main__ import SidecarSettings, build
from lucid_tron.services.beta_sidecar.proxy import known_shapes

V1 = "lucid.tron.v1"
SIGNERS = {service("payout-router"), service("usdt-manager"), service("staking")}
SIDECAR = service("beta-sidecar")
CALLERS = [
    *(service(name) for name in ("tron-client", "tron-relay", "wallet-manager", "usdt-manager", "staking")),
    *(service(name) for name in ("payment-gateway", "payout-router", "beta-sidecar", "test-service")),
    OPERATOR,
]
METHODS = sorted(method for method in known_shapes() if method.startswith(f"/{V1}.") or "reflection" in method)
WALLET_ADMINISTRATION = {"CreateWallet", "ListWallets", "UpdateWallet", "ListAuditEntries", "VerifyAuditLog"}
WALLET_READS = {"GetWallet", "ListAddresses"}
ENERGY_PLANS = {"CreateEnergyPlan", "GetEnergyPlan", "CompleteEnergyPlan"}
#: What the treasury (in the staking process) reads of invoices to find the paid ones.
INVOICE_READS = {"GetInvoice", "ListInvoices"}


def may_call(caller: str, method: str) -> bool:
    """The mesh policy as the issue states it (in-service check)."""
    service_name, _, name = method.lstrip("/").partition("/")
    operator = caller.startswith("spiffe://lucid/operator/")
    member = caller.startswith("spiffe://lucid/tron/")
    if service_name == f"{V1}.WalletService":
        # Nothing on the ops plane calls WalletService directly; payment-gateway derives through the sidecar.
        if name == "SignTransaction":
            return caller in SIGNERS
        if name in WALLET_READS:
            return caller in SIGNERS or operator
        if name in ("DeriveAddress", "DeriveAddresses"):
            return caller == SIDECAR or operator
        if name in WALLET_ADMINISTRATION:
            return operator
        raise AssertionError(f"{method}: a WalletService method the matrix does not know; decide who may call it")
    if service_name == f"{V1}.TronClientService":
        if name == "BroadcastTransaction":
            return caller in SIGNERS or operator
        return member or operator
    if service_name == f"{V1}.RelayService":
        return member or operator
    if service_name == f"{V1}.StakingService" and name in ENERGY_PLANS:
        # usdt-manager plans the energy of every transfer it sends.
        return caller == service("usdt-manager") or operator
    if service_name == f"{V1}.PaymentGatewayService" and name in INVOICE_READS:
        return caller == service("staking") or operator
    # The payment services' other APIs and reflection: operators (nothing in the mesh calls them).
    return operator


def may_call_through_sidecar(caller: str, method: str) -> bool:
    """The border: payment-gateway derives invoice addresses, and nothing else crosses."""
    border = caller == service("payment-gateway") and method in (
        f"/{V1}.WalletService/DeriveAddress", f"/{V1}.WalletService/DeriveAddresses"
    )
    return border and may_call(SIDECAR, method)


def stub_services() -> ServiceSpec:
    """The seven services' generated servicer bases: every method is served and answers UNIMPLEMENTED."""
    modules = [
        (tron_client_pb2_grpc, "TronClientService"),
        (relay_pb2_grpc, "RelayService"),
        (wallet_pb2_grpc, "WalletService"),
        (usdt_pb2_grpc, "UsdtService"),
        (staking_pb2_grpc, "StakingService"),
        (payment_gateway_pb2_grpc, "PaymentGatewayService"),
        (webhooks_pb2_grpc, "WebhookService"),
        (payout_router_pb2_grpc, "PayoutRouterService"),
        (treasury_pb2_grpc, "TreasuryService"),
    ]
    registrations = [
        Registration(getattr(module, f"add_{name}Servicer_to_server"), getattr(module, f"{name}Servicer")(), f"{V1}.{name}")
        for module, name in modules
    ]
    return ServiceSpec(name="stub-mesh", services=registrations)


@pytest.fixture(scope="module")
async def mesh(mesh_tls: MeshTls) -> AsyncIterator[MeshServer]:
    # ACL_POLICY_FILE unset: the shipped mesh policy, as every service runs it by default.
    async with serving(stub_services(), ServiceSettings(port=0, **mesh_tls.server_settings("wallet-manager"))) as running:
        yield running


@pytest.fixture(scope="module")
async def sidecar(mesh_tls: MeshTls, mesh: MeshServer) -> AsyncIterator[MeshServer]:
    settings = SidecarSettings(port=0, backend_addr=mesh.address, **mesh_tls.server_settings("beta-sidecar"))
    async with serving(build(settings), settings) as running:
        yield running


@pytest.fixture(scope="module")
async def channels(mesh_tls: MeshTls) -> AsyncIterator[dict[tuple[str, str], grpc.aio.Channel]]:
    opened: dict[tuple[str, str], grpc.aio.Channel] = {}
    yield opened
    for channel in opened.values():
        await channel.close()


async def reaches(tls: MeshTls, channels: dict[tuple[str, str], grpc.aio.Channel], address: str, caller: str, method: str) -> bool:
    channel = channels.get((address, caller))
    if channel is None:
        channel = channels[(address, caller)] = tls.channel(address, caller)
    requests_stream, responses_stream = known_shapes()[method]
    try:
        if requests_stream:
            # Reflection, with no request: a request written while the server refuses the call races grpc Python's
            # client, which may then report INTERNAL ("Internal error from Core") instead of the server's status.
            [_ async for _ in channel.stream_stream(method)(iter(()), timeout=5)]
        elif responses_stream:
            [_ async for _ in channel.unary_stream(method)(b"", timeout=5)]
        else:
            await channel.unary_unary(method)(b"", timeout=5)
    except grpc.aio.AioRpcError as error:
        assert error.code() is not grpc.StatusCode.UNAUTHENTICATED
        return error.code() is not grpc.StatusCode.PERMISSION_DENIED
    return True


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("caller", CALLERS)
async def test_in_service_check_follows_the_shipped_mesh_policy(
    mesh_tls: MeshTls, mesh: MeshServer, channels: Any, caller: str, method: str
) -> None:
    assert await reaches(mesh_tls, channels, mesh.address, caller, method) is may_call(caller, method)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("caller", CALLERS)
async def test_sidecar_follows_the_shipped_border_and_mesh_policies(
    mesh_tls: MeshTls, sidecar: MeshServer, channels: Any, caller: str, method: str
) -> None:
    assert await reaches(mesh_tls, channels, sidecar.address, caller, method) is may_call_through_sidecar(caller, method)


def test_the_matrix_covers_all_seven_services_the_webhook_api_and_the_treasury() -> None:
    services = {method.lstrip("/").partition("/")[0] for method in METHODS}
    assert {s for s in services if s.startswith(V1)} == {
        f"{V1}.{name}"
        for name in (
            "TronClientService",
            "RelayService",
            "WalletService",
            "UsdtService",
            "StakingService",
            "PaymentGatewayService",
            "WebhookService",
            "PayoutRouterService",
            "TreasuryService",
        )
    }


def test_shipped_policies_are_the_files_in_deploy() -> None:
    from lucid_tron.authz import MESH_POLICY, SIDECAR_POLICY, shipped_policy_text

    deploy = Path(__file__).parents[3] / "deploy" / "policies"
    for name in (MESH_POLICY, SIDECAR_POLICY):
        assert shipped_policy_text(name) == (deploy / f"{name}.json").read_text(encoding="utf-8")

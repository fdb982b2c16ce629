"""The gRPC adapter of usdt-manager: lucid.tron.v1.UsdtService over `UsdtTransfers`.

Every RPC is still the generated base's, so each answers UNIMPLEMENTED (naming the method) until the issue that builds
USDT balances, transfers, approvals and history implements it here: parse the request (`messages`), call
`UsdtTransfers`, map the answer back.
"""

from __future__ import annotations

from lucid.tron.v1 import usdt_pb2_grpc
from lucid_tron.mesh import Registration

from .messages import SERVICE_NAME
from .transfers import UsdtTransfers


class UsdtManagerServicer(usdt_pb2_grpc.UsdtServiceServicer):
    """lucid.tron.v1.UsdtService; no RPC implemented yet."""

    def __init__(self, transfers: UsdtTransfers) -> None:
        self._transfers = transfers


def registration(servicer: UsdtManagerServicer) -> Registration:
    """The servicer as the mesh registers it (health and reflection under SERVICE_NAME)."""
    return Registration(usdt_pb2_grpc.add_UsdtServiceServicer_to_server, servicer, SERVICE_NAME)

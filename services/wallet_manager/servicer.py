"""The gRPC adapter of wallet-manager: lucid.tron.v1.WalletService over `Wallets`.

Every RPC is still the generated base's, so each answers UNIMPLEMENTED (naming the method) until the issue that builds
HD wallets, derivation and intent-checked signing implements it here: parse the request (`messages`), call `Wallets`,
map the answer back.
"""

from __future__ import annotations

from lucid.tron.v1 import wallet_pb2_grpc
from lucid_tron.mesh import Registration

from .messages import SERVICE_NAME
from .wallets import Wallets


class WalletManagerServicer(wallet_pb2_grpc.WalletServiceServicer):
    """lucid.tron.v1.WalletService; no RPC implemented yet."""

    def __init__(self, wallets: Wallets) -> None:
        self._wallets = wallets


def registration(servicer: WalletManagerServicer) -> Registration:
    """The servicer as the mesh registers it (health and reflection under SERVICE_NAME)."""
    return Registration(wallet_pb2_grpc.add_WalletServiceServicer_to_server, servicer, SERVICE_NAME)

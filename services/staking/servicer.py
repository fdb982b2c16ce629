"""The gRPC adapter of staking: lucid.tron.v1.StakingService over `Stakes`.

Every RPC is still the generated base's, so each answers UNIMPLEMENTED (naming the method) until the issue that builds
Stake 2.0 implements it here: parse the request (`messages`), call `Stakes`, map the answer back.
"""

from __future__ import annotations

from lucid.tron.v1 import staking_pb2_grpc
from lucid_tron.mesh import Registration

from .messages import SERVICE_NAME
from .stakes import Stakes


class StakingServicer(staking_pb2_grpc.StakingServiceServicer):
    """lucid.tron.v1.StakingService; no RPC implemented yet."""

    def __init__(self, stakes: Stakes) -> None:
        self._stakes = stakes


def registration(servicer: StakingServicer) -> Registration:
    """The servicer as the mesh registers it (health and reflection under SERVICE_NAME)."""
    return Registration(staking_pb2_grpc.add_StakingServiceServicer_to_server, servicer, SERVICE_NAME)

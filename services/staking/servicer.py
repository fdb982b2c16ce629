"""The gRPC adapter of staking: lucid.tron.v1.StakingService over `Stakes` and `EnergyPlanner`.

Each implemented RPC parses the request (`messages`), calls the domain and maps the answer back; the others are still
the generated base's and answer UNIMPLEMENTED (naming the method).
"""

from __future__ import annotations

from typing import Any

from lucid.tron.v1 import staking_pb2, staking_pb2_grpc
from lucid_tron.mesh import Registration

from . import messages
from .energy import EnergyPlanner
from .messages import SERVICE_NAME
from .stakes import Stakes


class StakingServicer(staking_pb2_grpc.StakingServiceServicer):
    """lucid.tron.v1.StakingService."""

    def __init__(self, stakes: Stakes, energy: EnergyPlanner) -> None:
        self._stakes = stakes
        self._energy = energy

    async def CreateEnergyPlan(
        self, request: staking_pb2.CreateEnergyPlanRequest, context: Any
    ) -> staking_pb2.CreateEnergyPlanResponse:
        plan = await self._energy.create(messages.plan_request(request))
        return staking_pb2.CreateEnergyPlanResponse(plan=messages.plan_message(plan))

    async def GetEnergyPlan(
        self, request: staking_pb2.GetEnergyPlanRequest, context: Any
    ) -> staking_pb2.GetEnergyPlanResponse:
        plan = await self._energy.get(messages.plan_id(request.plan_id))
        return staking_pb2.GetEnergyPlanResponse(plan=messages.plan_message(plan))

    async def CompleteEnergyPlan(
        self, request: staking_pb2.CompleteEnergyPlanRequest, context: Any
    ) -> staking_pb2.CompleteEnergyPlanResponse:
        plan = await self._energy.complete(*messages.complete_request(request))
        return staking_pb2.CompleteEnergyPlanResponse(plan=messages.plan_message(plan))


def registration(servicer: StakingServicer) -> Registration:
    """The servicer as the mesh registers it (health and reflection under SERVICE_NAME)."""
    return Registration(staking_pb2_grpc.add_StakingServiceServicer_to_server, servicer, SERVICE_NAME)

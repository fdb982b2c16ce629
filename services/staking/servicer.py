"""The gRPC adapter of staking: lucid.tron.v1.StakingService over `Stakes`, its `ResourceReader` and `EnergyPlanner`.

Each RPC checks its request (`messages`, every bad field named at once), calls the domain, and maps the answer back.
The writes run under the store's idempotency keys (AIP-155); under them the domain finds the transaction a request
already signed, so even a request whose key was forgotten never signs twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from google.protobuf.message import Message

from lucid.tron.v1 import staking_pb2, staking_pb2_grpc
from lucid_tron.mesh import Registration

from . import messages
from .energy import EnergyPlanner
from .forecast import PlannedTransfers
from .stakes import CANCEL_ALL_UNFREEZE, DELEGATE, FREEZE, UNDELEGATE, UNFREEZE, WITHDRAW, StakeOrder, Stakes

R = TypeVar("R", bound=Message)


class StakingServicer(staking_pb2_grpc.StakingServiceServicer):
    """lucid.tron.v1.StakingService."""

    def __init__(self, stakes: Stakes, energy: EnergyPlanner, planned: PlannedTransfers | None = None) -> None:
        self._stakes = stakes
        self._energy = energy
        self._planned = planned or PlannedTransfers()

    async def _write(
        self, method: str, request: messages.StakeRequest, send: Callable[[StakeOrder], Awaitable[R]],
        response_type: type[R],
    ) -> R:
        order = messages.stake_order(method, request)
        return await self._stakes.store.idempotency_keys.run(
            method, order.order.request_id, request, lambda: send(order), response_type
        )

    async def FreezeBalance(self, request: staking_pb2.FreezeBalanceRequest, context: Any) -> Any:
        async def send(order: StakeOrder) -> staking_pb2.FreezeBalanceResponse:
            return staking_pb2.FreezeBalanceResponse(transaction=messages.submitted(await self._stakes.freeze(order)))

        return await self._write(FREEZE, request, send, staking_pb2.FreezeBalanceResponse)

    async def UnfreezeBalance(self, request: staking_pb2.UnfreezeBalanceRequest, context: Any) -> Any:
        async def send(order: StakeOrder) -> staking_pb2.UnfreezeBalanceResponse:
            return messages.unfreeze_response(await self._stakes.unfreeze(order))

        return await self._write(UNFREEZE, request, send, staking_pb2.UnfreezeBalanceResponse)

    async def CancelAllUnfreeze(self, request: staking_pb2.CancelAllUnfreezeRequest, context: Any) -> Any:
        async def send(order: StakeOrder) -> staking_pb2.CancelAllUnfreezeResponse:
            sent = await self._stakes.cancel_all_unfreeze(order)
            return staking_pb2.CancelAllUnfreezeResponse(
                transaction=messages.submitted(sent), restaked_sun=sent["restaked_sun"],
                withdrawn_sun=sent["withdrawn_sun"],
            )

        return await self._write(CANCEL_ALL_UNFREEZE, request, send, staking_pb2.CancelAllUnfreezeResponse)

    async def WithdrawExpireUnfreeze(self, request: staking_pb2.WithdrawExpireUnfreezeRequest, context: Any) -> Any:
        async def send(order: StakeOrder) -> staking_pb2.WithdrawExpireUnfreezeResponse:
            sent = await self._stakes.withdraw(order)
            return staking_pb2.WithdrawExpireUnfreezeResponse(
                transaction=messages.submitted(sent), withdrawable_sun=sent["withdrawable_sun"]
            )

        return await self._write(WITHDRAW, request, send, staking_pb2.WithdrawExpireUnfreezeResponse)

    async def DelegateResource(self, request: staking_pb2.DelegateResourceRequest, context: Any) -> Any:
        async def send(order: StakeOrder) -> staking_pb2.DelegateResourceResponse:
            return staking_pb2.DelegateResourceResponse(
                transaction=messages.submitted(await self._stakes.delegate(order))
            )

        return await self._write(DELEGATE, request, send, staking_pb2.DelegateResourceResponse)

    async def UndelegateResource(self, request: staking_pb2.UndelegateResourceRequest, context: Any) -> Any:
        async def send(order: StakeOrder) -> staking_pb2.UndelegateResourceResponse:
            return staking_pb2.UndelegateResourceResponse(
                transaction=messages.submitted(await self._stakes.undelegate(order))
            )

        return await self._write(UNDELEGATE, request, send, staking_pb2.UndelegateResourceResponse)

    async def GetResources(self, request: staking_pb2.GetResourcesRequest, context: Any) -> Any:
        address = messages.address(request)
        return messages.resources_response(await self._stakes.reader.resources(address))

    async def ForecastResources(self, request: staking_pb2.ForecastResourcesRequest, context: Any) -> Any:
        address = messages.address(request)
        forecast = await self._stakes.reader.forecast(
            address,
            additional_energy_stake_sun=request.additional_energy_stake_sun,
            target_usdt_transfers_per_day=request.target_usdt_transfers_per_day,
            planned_usdt_transfers=request.planned_usdt_transfers + await self._planned(address),
        )
        return messages.forecast_response(forecast)

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
    return Registration(staking_pb2_grpc.add_StakingServiceServicer_to_server, servicer, messages.SERVICE_NAME)

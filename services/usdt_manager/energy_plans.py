"""usdt-manager's side of StakingService's energy plans: each Transfer gets a plan before it is signed, and the plan
is completed once the transfer is in a block (or can never be), which takes a delegation back and records the cost.

When STAKING_ADDR is set and staking does not answer, Transfer fails fast with UNAVAILABLE (the peer client's
deadline) and signs nothing: no silent fallback to burning. A staking outage that quietly turned every transfer
into a 6-13 TRX burn would cost real money without anyone deciding it, and the callers (payouts, sweeps) already
retry UNAVAILABLE. An operator who prefers burning unsets STAKING_ADDR: transfers then burn within
FEE_LIMIT_CAP_SUN, as before energy planning.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from lucid.tron.v1 import staking_pb2
from lucid_tron.errors import LucidError
from lucid_tron.peers import StakingService

_log = logging.getLogger("lucid_tron.usdt_manager.energy")

SOURCE_NAMES = {
    staking_pb2.ENERGY_SOURCE_OWN: "OWN",
    staking_pb2.ENERGY_SOURCE_DELEGATED: "DELEGATED",
    staking_pb2.ENERGY_SOURCE_BURN: "BURN",
}
SOURCE_NUMBERS = {name: number for number, name in SOURCE_NAMES.items()}
COMPLETED = "COMPLETED"


def plan_request_id(transfer_request_id: str) -> str:
    """The plan's request id, derived from the transfer's: a retried Transfer finds the same plan."""
    return "usdt-transfer:" + hashlib.sha256(transfer_request_id.encode()).hexdigest()


def plan_record(plan: staking_pb2.EnergyPlan) -> dict[str, Any]:
    """What a transfer document keeps of its plan."""
    return {
        "plan_id": plan.plan_id,
        "source": SOURCE_NAMES[plan.source],
        "state": staking_pb2.EnergyPlanState.Name(plan.state).removeprefix("ENERGY_PLAN_STATE_"),
        "delegated_sun": plan.delegated_sun,
        "plan_trx_burned_sun": plan.plan_trx_burned_sun,
    }


class EnergyPlans:
    """Energy plans of usdt-manager's transfers, through staking."""

    def __init__(self, staking: StakingService) -> None:
        self._staking = staking

    async def plan(
        self, transfer_request_id: str, sender: str, recipient: str, amount: int, *, max_burn_sun: int
    ) -> staking_pb2.EnergyPlan:
        """The plan of one transfer (READY: its energy is there), made once per transfer request."""
        answer = await self._staking.rpc.CreateEnergyPlan(
            staking_pb2.CreateEnergyPlanRequest(
                request_id=plan_request_id(transfer_request_id),
                sender_address=sender,
                recipient_address=recipient,
                amount_base_units=amount,
                max_burn_sun=max_burn_sun,
            )
        )
        return answer.plan

    async def complete(self, plan_id: str, transfer_txid: str) -> staking_pb2.EnergyPlan:
        answer = await self._staking.rpc.CompleteEnergyPlan(
            staking_pb2.CompleteEnergyPlanRequest(plan_id=plan_id, transfer_txid=transfer_txid)
        )
        return answer.plan

    async def abandon(self, plan_id: str) -> None:
        """Complete a plan whose transfer will not be sent; best effort (staking's reaper takes the energy back
        after ENERGY_PLAN_TIMEOUT_S otherwise)."""
        try:
            await self.complete(plan_id, "")
        except LucidError as error:
            _log.warning("energy plan %s not completed (the reaper will): %s", plan_id, error.message)

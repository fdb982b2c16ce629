"""staking's proto side: the name of lucid.tron.v1.StakingService, and the mapping between its messages and the values
of `stakes` as its RPCs are implemented.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lucid.tron.v1 import staking_pb2
from lucid_tron.storage import request_digest
from lucid_tron.validation import FieldChecks

from . import energy

SERVICE_NAME: str = staking_pb2.DESCRIPTOR.services_by_name["StakingService"].full_name


# -- energy plans -------------------------------------------------------------------------------------------------

_PLAN_ID = re.compile(r"ep_[0-9a-f]{24}", re.ASCII)
_SOURCES = {
    energy.OWN: staking_pb2.ENERGY_SOURCE_OWN,
    energy.DELEGATED: staking_pb2.ENERGY_SOURCE_DELEGATED,
    energy.BURN: staking_pb2.ENERGY_SOURCE_BURN,
}
_PLAN_STATES = {
    energy.DELEGATING: staking_pb2.ENERGY_PLAN_STATE_DELEGATING,
    energy.READY: staking_pb2.ENERGY_PLAN_STATE_READY,
    energy.RELEASING: staking_pb2.ENERGY_PLAN_STATE_RELEASING,
    energy.COMPLETED: staking_pb2.ENERGY_PLAN_STATE_COMPLETED,
}


def plan_request(request: staking_pb2.CreateEnergyPlanRequest) -> energy.PlanRequest:
    check = FieldChecks()
    request_id = check.string("request_id", request.request_id, max_length=128)
    sender = check.address("sender_address", request.sender_address)
    recipient = check.address("recipient_address", request.recipient_address)
    amount = check.amount("amount_base_units", request.amount_base_units)
    max_burn = check.amount("max_burn_sun", request.max_burn_sun, allow_zero=True)
    if sender is not None and sender == recipient:
        check.fail("recipient_address", "must differ from sender_address")
    check.done()
    assert request_id is not None and sender is not None and recipient is not None
    assert amount is not None and max_burn is not None
    return energy.PlanRequest(request_id, request_digest(request), sender, recipient, amount, max_burn)


def plan_id(value: str) -> str:
    check = FieldChecks()
    checked = check.pattern("plan_id", value, _PLAN_ID, expected="a plan id as CreateEnergyPlan returns it (ep_...)")
    check.done()
    assert checked is not None
    return checked


def complete_request(request: staking_pb2.CompleteEnergyPlanRequest) -> tuple[str, str]:
    """(plan_id, transfer_txid or "") of a CompleteEnergyPlan request."""
    check = FieldChecks()
    checked = check.pattern("plan_id", request.plan_id, _PLAN_ID, expected="a plan id as CreateEnergyPlan returns it")
    txid = check.txid("transfer_txid", request.transfer_txid, required=False)
    check.done()
    assert checked is not None
    return checked, txid or ""


def plan_message(plan: Mapping[str, Any]) -> staking_pb2.EnergyPlan:
    message = staking_pb2.EnergyPlan(
        plan_id=plan["_id"],
        request_id=plan["request_id"],
        sender_address=plan["sender"],
        recipient_address=plan["recipient"],
        energy_planned=plan["energy_planned"],
        energy_estimated=plan["energy_estimated"],
        energy_available=plan["energy_available"],
        source=_SOURCES[plan["source"]],
        state=_PLAN_STATES[plan["state"]],
        delegated_sun=plan["delegated_sun"],
        delegate_txid=plan.get("delegate", {}).get("txid", ""),
        undelegate_txid=plan.get("undelegate", {}).get("txid", ""),
        fee_limit_sun=plan["fee_limit_sun"],
        transfer_txid=plan.get("transfer_txid", ""),
        energy_used=plan.get("energy_used", 0),
        trx_burned_sun=plan.get("trx_burned_sun", 0),
        bandwidth_used=plan.get("bandwidth_used", 0),
        plan_trx_burned_sun=plan["plan_trx_burned_sun"],
        reaped=plan.get("reaped", False),
    )
    message.create_time.FromDatetime(plan["created_at"])
    if plan.get("complete_time") is not None:
        message.complete_time.FromDatetime(plan["complete_time"])
    return message

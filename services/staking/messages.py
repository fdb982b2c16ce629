"""staking's proto side: the name of lucid.tron.v1.StakingService, the checks of its requests (every bad field named
at once) and the mapping between its messages and the values of `stakes`, `resources` and `forecast`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lucid.tron.v1 import common_pb2, staking_pb2
from lucid_tron.chain import SUN_PER_TRX
from lucid_tron.sending import Order
from lucid_tron.storage import request_digest
from lucid_tron.trongrid import timestamp_message
from lucid_tron.validation import FieldChecks

from . import energy
from .forecast import Forecast
from .resources import RESOURCE_NAMES, Resources
from .stakes import StakeOrder

SERVICE_NAME: str = staking_pb2.DESCRIPTOR.services_by_name["StakingService"].full_name

_WALLET_ID = re.compile(r"w_[0-9a-f]{24}", re.ASCII)
#: Transfers a day a forecast plans for at most: far beyond what a node sends, small enough to keep a forecast cheap.
MAX_TRANSFERS_PER_DAY = 100_000

#: Writes whose amount TRON holds to at least 1 TRX (freezebalancev2, delegateresource).
_AT_LEAST_ONE_TRX = (staking_pb2.FreezeBalanceRequest, staking_pb2.DelegateResourceRequest)

StakeRequest = (
    staking_pb2.FreezeBalanceRequest
    | staking_pb2.UnfreezeBalanceRequest
    | staking_pb2.DelegateResourceRequest
    | staking_pb2.UndelegateResourceRequest
    | staking_pb2.WithdrawExpireUnfreezeRequest
    | staking_pb2.CancelAllUnfreezeRequest
)


# -- requests -----------------------------------------------------------------------------------------------------


def stake_order(method: str, request: StakeRequest) -> StakeOrder:
    """The checked order of any of the six writes: the fields each has, checked by the same rules."""
    check = FieldChecks()
    request_id = check.string("request_id", request.request_id, max_length=128)
    wallet_id = check.pattern(
        "wallet_id", request.wallet_id, _WALLET_ID, expected='a wallet id ("w_" and 24 hex digits)', max_length=26
    )
    owner = check.address("owner_address", request.owner_address)
    fields: dict[str, Any] = {}
    names = request.DESCRIPTOR.fields_by_name
    if "resource" in names:
        fields["resource"] = check.enum("resource", request.resource, RESOURCE_NAMES)
    if "amount_sun" in names:
        fields["amount_sun"] = _amount(check, request)
    if "receiver_address" in names:
        receiver = fields["receiver"] = check.address("receiver_address", request.receiver_address)
        if owner is not None and receiver == owner:
            check.fail("receiver_address", "must differ from owner_address")
    if "lock" in names:
        fields["lock"] = request.lock
        fields["lock_period_blocks"] = check.non_negative("lock_period_blocks", request.lock_period_blocks)
        if request.lock_period_blocks and not request.lock:
            check.fail("lock_period_blocks", "is only meaningful with lock; set lock, or leave the period 0")
    check.done()
    assert request_id and wallet_id and owner
    order = Order(method, request_id, request_digest(request), wallet_id, reference=f"staking:{method}")
    return StakeOrder(order, owner, **fields)


def _amount(check: FieldChecks, request: Any) -> int | None:
    amount = check.amount("amount_sun", request.amount_sun)
    if amount is not None and type(request) in _AT_LEAST_ONE_TRX and amount < SUN_PER_TRX:
        check.fail("amount_sun", f"must be at least {SUN_PER_TRX} SUN (1 TRX, TRON's minimum), got {amount}")
        return None
    return amount


def address(request: staking_pb2.GetResourcesRequest | staking_pb2.ForecastResourcesRequest) -> str:
    check = FieldChecks()
    value = check.address("address", request.address)
    _forecast_fields(check, request)
    check.done()
    assert value is not None
    return value


def _forecast_fields(check: FieldChecks, request: Any) -> None:
    if not isinstance(request, staking_pb2.ForecastResourcesRequest):
        return
    check.amount("additional_energy_stake_sun", request.additional_energy_stake_sun, allow_zero=True)
    check.non_negative("target_usdt_transfers_per_day", request.target_usdt_transfers_per_day,
                       maximum=MAX_TRANSFERS_PER_DAY)
    check.non_negative("planned_usdt_transfers", request.planned_usdt_transfers, maximum=MAX_TRANSFERS_PER_DAY)


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


# -- responses ----------------------------------------------------------------------------------------------------


def submitted(sent: dict[str, Any]) -> common_pb2.SubmittedTransaction:
    return common_pb2.SubmittedTransaction(txid=sent["_id"], expiration_time=timestamp_message(sent["expiration_ms"]))


def unfreeze_response(sent: dict[str, Any]) -> staking_pb2.UnfreezeBalanceResponse:
    return staking_pb2.UnfreezeBalanceResponse(
        transaction=submitted(sent), withdrawable_time=timestamp_message(sent["withdrawable_ms"])
    )


def resources_response(value: Resources) -> staking_pb2.GetResourcesResponse:
    return staking_pb2.GetResourcesResponse(
        resources=value.account,
        pending_unfreezes=value.pending,
        delegations=value.delegations,
        delegatable_bandwidth_sun=value.delegatable_bandwidth_sun,
        delegatable_energy_sun=value.delegatable_energy_sun,
        withdrawable_sun=value.withdrawable_sun,
        energy_available=value.energy_available,
        bandwidth_available=value.bandwidth_available,
    )


def forecast_response(value: Forecast) -> staking_pb2.ForecastResourcesResponse:
    return staking_pb2.ForecastResourcesResponse(
        energy_per_day=value.energy_per_day,
        bandwidth_per_day=value.bandwidth_per_day,
        energy_per_transfer_to_holder=value.energy_per_transfer_to_holder,
        energy_per_transfer_to_new_holder=value.energy_per_transfer_to_new_holder,
        usdt_transfers_to_holders_per_day=value.usdt_transfers_to_holders_per_day,
        usdt_transfers_to_new_holders_per_day=value.usdt_transfers_to_new_holders_per_day,
        stake_needed_sun=value.stake_needed_sun,
        daily_burn_without_stake_sun=value.daily_burn_without_stake_sun,
        hourly=[
            staking_pb2.ResourcePoint(
                time=timestamp_message(point.time_ms),
                energy_available=point.energy_available,
                bandwidth_available=point.bandwidth_available,
            )
            for point in value.hourly
        ],
        planned_usdt_transfers=value.planned_usdt_transfers,
        energy_shortfall=value.energy_shortfall,
    )

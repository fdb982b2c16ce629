"""CreateEnergyPlan / CompleteEnergyPlan on devnet: each transfer gets its energy the cheapest way the policy allows
(own energy, a delegation for the moment, TRX burned within the cap, or a refusal), a delegation is taken back once
the transfer is in a block, and what the transfer cost is recorded."""

from __future__ import annotations

import grpc
import pytest

from fixtures.rpc_errors import error_reason, field_violations
from integration.staking.energy_kit import EnergyStack, energy_stack, fresh_key, stake_own_energy
from lucid.tron.v1 import common_pb2, staking_pb2

S = staking_pb2


async def refused(call, request) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call(request)
    return raised.value


async def test_a_sender_without_energy_transfers_on_delegated_energy_and_ends_with_nothing_delegated(
    stack: EnergyStack,
) -> None:
    sender, holder = stack.sender(), stack.holder()

    plan = await stack.create_plan(sender.address, holder, 1_000_000)
    lent = await stack.resources(sender.address)
    txid = stack.send_usdt(sender, holder, 1_000_000, fee_limit_sun=plan.fee_limit_sun)
    releasing = await stack.complete_plan(plan.plan_id, txid)
    completed = await stack.released(plan.plan_id)

    assert (plan.source, plan.state) == (S.ENERGY_SOURCE_DELEGATED, S.ENERGY_PLAN_STATE_READY)
    assert plan.energy_planned >= plan.energy_estimated * 130 // 100
    assert lent.energy_limit - lent.energy_used >= plan.energy_planned
    receipt = await stack.receipt(txid)
    assert receipt.result == common_pb2.EXECUTION_RESULT_SUCCESS
    assert receipt.energy_burned == 0
    assert releasing.state == S.ENERGY_PLAN_STATE_RELEASING
    assert (completed.energy_used, completed.trx_burned_sun) == (receipt.energy_used, receipt.fee_sun)
    assert completed.bandwidth_used == receipt.bandwidth_used
    assert completed.transfer_txid == txid and completed.undelegate_txid
    assert (await stack.resources(sender.address)).delegated_energy_in_sun == 0
    assert (await stack.resources(stack.staking_address)).delegated_energy_out_sun == 0


async def test_own_energy_is_used_when_it_covers_the_transfer(stack: EnergyStack) -> None:
    sender, holder = stack.sender(trx_sun=20_000_000_000), stack.holder()
    stake_own_energy(stack.devnet, sender, 15_000_000_000)

    plan = await stack.create_plan(sender.address, holder, 1_000_000)
    txid = stack.send_usdt(sender, holder, 1_000_000, fee_limit_sun=plan.fee_limit_sun)
    completed = await stack.complete_plan(plan.plan_id, txid)

    assert (plan.source, plan.state, plan.delegated_sun) == (S.ENERGY_SOURCE_OWN, S.ENERGY_PLAN_STATE_READY, 0)
    assert completed.state == S.ENERGY_PLAN_STATE_COMPLETED
    assert completed.energy_used > 0 and completed.trx_burned_sun == 0
    assert (await stack.resources(stack.staking_address)).delegated_energy_out_sun == 0


async def test_a_retry_with_the_same_request_id_returns_the_same_plan_and_delegates_once(stack: EnergyStack) -> None:
    sender, holder = stack.sender(), stack.holder()
    request = stack.plan_request(sender.address, holder, 1_000_000)

    first = (await stack.produce_while(stack.stub.CreateEnergyPlan(request))).plan
    again = (await stack.stub.CreateEnergyPlan(request)).plan

    assert again.plan_id == first.plan_id and again.delegate_txid == first.delegate_txid
    lent = await stack.resources(stack.staking_address)
    assert lent.delegated_energy_out_sun == first.delegated_sun


async def test_a_plan_completed_without_a_transfer_takes_the_delegation_back(stack: EnergyStack) -> None:
    sender, holder = stack.sender(), stack.holder()
    plan = await stack.create_plan(sender.address, holder, 1_000_000)

    await stack.complete_plan(plan.plan_id)
    completed = await stack.released(plan.plan_id)

    assert (completed.transfer_txid, completed.energy_used) == ("", 0)
    assert (await stack.resources(sender.address)).delegated_energy_in_sun == 0


async def test_completing_before_the_transfer_is_in_a_block_is_refused_and_keeps_the_energy(stack: EnergyStack) -> None:
    sender, holder = stack.sender(), stack.holder()
    plan = await stack.create_plan(sender.address, holder, 1_000_000)

    error = await refused(stack.stub.CompleteEnergyPlan, S.CompleteEnergyPlanRequest(plan_id=plan.plan_id,
                                                                                   transfer_txid="ab" * 32))

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(error) == "TRANSFER_NOT_IN_BLOCK"
    assert (await stack.get_plan(plan.plan_id)).state == S.ENERGY_PLAN_STATE_READY


async def test_an_unknown_plan_is_not_found(stack: EnergyStack) -> None:
    error = await refused(stack.stub.GetEnergyPlan, S.GetEnergyPlanRequest(plan_id="ep_" + "0" * 24))

    assert error.code() == grpc.StatusCode.NOT_FOUND


async def test_an_unactivated_sender_is_refused(stack: EnergyStack) -> None:
    error = await refused(stack.stub.CreateEnergyPlan,
                          stack.plan_request(fresh_key("nobody").address, stack.holder(), 1_000_000))

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(error) == "SENDER_NOT_ACTIVATED"


async def test_bad_input_names_every_field(stack: EnergyStack) -> None:
    request = S.CreateEnergyPlanRequest(sender_address="nope", recipient_address="", amount_base_units=-1,
                                        max_burn_sun=-5)

    error = await refused(stack.stub.CreateEnergyPlan, request)

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == {
        "request_id", "sender_address", "recipient_address", "amount_base_units", "max_burn_sun"
    }


async def test_without_delegation_the_sender_burns_within_the_cap(devnet, mongo_url, tmp_path) -> None:
    async with energy_stack(devnet, mongo_url, tmp_path, energy_delegation=False) as stack:
        sender, holder = stack.sender(), stack.holder()

        plan = await stack.create_plan(sender.address, holder, 1_000_000, max_burn_sun=10_000_000)
        txid = stack.send_usdt(sender, holder, 1_000_000, fee_limit_sun=plan.fee_limit_sun)
        completed = await stack.complete_plan(plan.plan_id, txid)
        receipt = await stack.receipt(txid)

    assert (plan.source, plan.delegated_sun) == (S.ENERGY_SOURCE_BURN, 0)
    assert receipt.result == common_pb2.EXECUTION_RESULT_SUCCESS
    assert completed.state == S.ENERGY_PLAN_STATE_COMPLETED
    assert completed.trx_burned_sun == receipt.fee_sun > 0
    assert completed.trx_burned_sun <= 10_000_000


async def test_a_burn_over_the_cap_is_refused_with_energy_unavailable(devnet, mongo_url, tmp_path) -> None:
    async with energy_stack(devnet, mongo_url, tmp_path, energy_delegation=False) as stack:
        request = stack.plan_request(stack.sender().address, stack.holder(), 1_000_000, max_burn_sun=1_000_000)

        error = await refused(stack.stub.CreateEnergyPlan, request)

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(error) == "ENERGY_UNAVAILABLE"
    assert "cap of 1000000 SUN" in (error.details() or "")


async def test_a_second_delegated_transfer_from_the_same_sender_burns_nothing_either(stack: EnergyStack) -> None:
    # Energy lent and taken back leaves the sender's usage behind (it recovers over 24 h): the next plan lends for it.
    sender = stack.sender()
    receipts = []
    for _ in range(2):
        holder = stack.holder()
        plan = await stack.create_plan(sender.address, holder, 1_000_000)
        txid = stack.send_usdt(sender, holder, 1_000_000, fee_limit_sun=plan.fee_limit_sun)
        await stack.complete_plan(plan.plan_id, txid)
        await stack.released(plan.plan_id)
        receipts.append(await stack.receipt(txid))

    assert [receipt.energy_burned for receipt in receipts] == [0, 0]
    assert [receipt.result for receipt in receipts] == [common_pb2.EXECUTION_RESULT_SUCCESS] * 2


async def test_a_plan_closed_without_a_transfer_frees_its_request_id_for_a_new_plan(stack: EnergyStack) -> None:
    sender, holder = stack.sender(), stack.holder()
    request = stack.plan_request(sender.address, holder, 1_000_000)
    first = (await stack.produce_while(stack.stub.CreateEnergyPlan(request))).plan
    await stack.complete_plan(first.plan_id)
    await stack.released(first.plan_id)

    again = (await stack.produce_while(stack.stub.CreateEnergyPlan(request))).plan

    assert again.plan_id != first.plan_id
    assert again.state == S.ENERGY_PLAN_STATE_READY and again.request_id == request.request_id
    assert (await stack.resources(sender.address)).delegated_energy_in_sun == again.delegated_sun


async def test_energy_promised_to_an_open_plan_is_not_promised_again(stack: EnergyStack) -> None:
    # Enough own energy for one transfer to a holder (~83,600 planned), not for two.
    sender = stack.sender(trx_sun=20_000_000_000)
    stake_own_energy(stack.devnet, sender, 12_000_000_000)

    first = await stack.create_plan(sender.address, stack.holder(), 1_000_000)
    second = await stack.create_plan(sender.address, stack.holder(), 1_000_000)

    assert first.source == S.ENERGY_SOURCE_OWN
    assert second.source == S.ENERGY_SOURCE_DELEGATED
    lent = await stack.resources(sender.address)
    assert lent.energy_limit - lent.energy_used >= first.energy_planned + second.energy_planned

"""Every delegation is stored with its plan before it is broadcast: a CreateEnergyPlan that fails on the way (the
chain unreachable for the broadcast) is retried with the same request_id and sends the same stored bytes, so the
energy is lent once."""

from __future__ import annotations

import grpc
import pytest

from integration.staking.energy_kit import EnergyStack
from lucid.tron.v1 import staking_pb2


async def test_a_retry_after_a_failed_broadcast_sends_the_stored_delegation_and_lends_once(stack: EnergyStack) -> None:
    sender, holder = stack.sender(), stack.holder()
    request = stack.plan_request(sender.address, holder, 1_000_000)
    outage = stack.devnet.faults.add(status=503, paths=["/wallet/broadcasthex"], count=4)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.CreateEnergyPlan(request)
    [stored] = await stack.collection("energy_plans")
    retried = (await stack.produce_while(stack.stub.CreateEnergyPlan(request))).plan
    audit = [entry for entry in await stack.collection("audit_log") if entry["action"] == "energy.delegate"]

    assert outage.matched == 4
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert stored["state"] == "DELEGATING"
    assert (retried.state, retried.delegate_txid) == (staking_pb2.ENERGY_PLAN_STATE_READY, stored["delegate"]["txid"])
    assert (await stack.resources(stack.staking_address)).delegated_energy_out_sun == retried.delegated_sun
    assert len(audit) == 1

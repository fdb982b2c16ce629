"""Stake 2.0 writes through staking on devnet: each built here, signed by wallet-manager against its intent, stored,
broadcast through tron-client, and visible on the chain and in GetResources."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from pymongo import AsyncMongoClient

from fixtures.rpc_errors import error_reason
from integration.staking.staking_kit import BANDWIDTH, ENERGY, TRX, UNFREEZE_DELAY_S, StakingStack, staking_stack
from integration.usdt_manager.usdt_kit import fresh_address
from lucid.tron.v1 import staking_pb2
from lucid_tron.pki import PkiDirectory


async def test_freezing_for_energy_stakes_the_trx_and_gives_energy(stack: StakingStack) -> None:
    sent = await stack.stub.FreezeBalance(stack.freeze(ENERGY, 100 * TRX))

    assert stack.settle() == (sent.transaction.txid,)
    found = await stack.resources()
    assert found.resources.staked_for_energy_sun == 100 * TRX
    assert found.resources.energy_limit > 0
    assert found.energy_available == found.resources.energy_limit


async def test_freezing_for_bandwidth_gives_bandwidth_beside_the_free_points(stack: StakingStack) -> None:
    await stack.stub.FreezeBalance(stack.freeze(BANDWIDTH, 50 * TRX))
    stack.settle()

    found = await stack.resources()

    assert found.resources.staked_for_bandwidth_sun == 50 * TRX
    assert found.bandwidth_available > found.resources.free_bandwidth_limit - found.resources.free_bandwidth_used


async def test_a_retried_freeze_returns_the_first_transaction_and_stakes_once(stack: StakingStack) -> None:
    request = stack.freeze(ENERGY, 10 * TRX)

    first = await stack.stub.FreezeBalance(request)
    again = await stack.stub.FreezeBalance(request)
    stack.settle()

    assert again == first
    assert (await stack.resources()).resources.staked_for_energy_sun == 10 * TRX


async def test_a_request_id_reused_for_another_request_is_refused(stack: StakingStack) -> None:
    await stack.stub.FreezeBalance(stack.freeze(ENERGY, 10 * TRX, request_id="same"))

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.FreezeBalance(stack.freeze(ENERGY, 11 * TRX, request_id="same"))

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(raised.value) == "IDEMPOTENCY_KEY_REUSED"


async def test_freezing_more_than_the_balance_is_a_precondition(stack: StakingStack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.FreezeBalance(stack.freeze(ENERGY, 20_000 * TRX))

    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "TRX_BALANCE_INSUFFICIENT"


async def test_an_unfreeze_is_pending_until_its_release_time(stack: StakingStack) -> None:
    await stack.stub.FreezeBalance(stack.freeze(ENERGY, 10 * TRX))
    stack.settle()

    sent = await stack.stub.UnfreezeBalance(stack.unfreeze(ENERGY, 4 * TRX))
    stack.settle()

    found = await stack.resources()
    (pending,) = found.pending_unfreezes
    assert (pending.resource, pending.amount_sun) == (ENERGY, 4 * TRX)
    assert pending.withdrawable_time.ToMilliseconds() >= sent.transaction.expiration_time.ToMilliseconds() - 120_000
    assert found.resources.staked_for_energy_sun == 6 * TRX
    assert found.withdrawable_sun == 0


async def test_unfreezing_more_than_staked_is_a_precondition(stack: StakingStack) -> None:
    await stack.stub.FreezeBalance(stack.freeze(ENERGY, 10 * TRX))
    stack.settle()

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.UnfreezeBalance(stack.unfreeze(ENERGY, 11 * TRX))

    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "UNFREEZE_EXCEEDS_STAKE"


async def test_a_33rd_pending_unfreeze_is_refused(stack: StakingStack) -> None:
    await stack.stub.FreezeBalance(stack.freeze(BANDWIDTH, 40 * TRX))
    stack.settle()
    for _ in range(32):
        await stack.stub.UnfreezeBalance(stack.unfreeze(BANDWIDTH, TRX))
    stack.settle()

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.UnfreezeBalance(stack.unfreeze(BANDWIDTH, TRX))

    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "TOO_MANY_PENDING_UNFREEZES"
    assert len((await stack.resources()).pending_unfreezes) == 32


async def test_withdrawing_with_nothing_withdrawable_is_a_precondition(stack: StakingStack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.WithdrawExpireUnfreeze(stack.withdraw())

    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "NOTHING_TO_WITHDRAW"


async def test_withdrawing_after_the_wait_returns_the_unstaked_trx(stack: StakingStack) -> None:
    await stack.stub.FreezeBalance(stack.freeze(ENERGY, 10 * TRX))
    stack.settle()
    await stack.stub.UnfreezeBalance(stack.unfreeze(ENERGY, 10 * TRX))
    stack.settle()
    await asyncio.sleep(UNFREEZE_DELAY_S + 0.5)
    assert (await stack.resources()).withdrawable_sun == 10 * TRX

    sent = await stack.stub.WithdrawExpireUnfreeze(stack.withdraw())
    stack.settle()

    assert sent.withdrawable_sun == 10 * TRX
    found = await stack.resources()
    assert (found.withdrawable_sun, list(found.pending_unfreezes)) == (0, [])


async def test_cancelling_all_unfreezes_restakes_what_waits_and_withdraws_what_is_due(stack: StakingStack) -> None:
    await stack.stub.FreezeBalance(stack.freeze(ENERGY, 10 * TRX))
    stack.settle()
    await stack.stub.UnfreezeBalance(stack.unfreeze(ENERGY, 3 * TRX))
    stack.settle()
    await asyncio.sleep(1.0)
    await stack.stub.UnfreezeBalance(stack.unfreeze(ENERGY, 2 * TRX))
    stack.settle()
    # The first unstake is due now, the second is not (an unfreeze would withdraw a due one, so they are apart).
    await asyncio.sleep(UNFREEZE_DELAY_S - 0.8)

    sent = await stack.stub.CancelAllUnfreeze(stack.cancel_all())
    stack.settle()

    assert (sent.restaked_sun, sent.withdrawn_sun) == (2 * TRX, 3 * TRX)
    found = await stack.resources()
    assert found.resources.staked_for_energy_sun == 7 * TRX
    assert list(found.pending_unfreezes) == []


async def test_cancelling_with_no_unfreeze_is_a_precondition(stack: StakingStack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.CancelAllUnfreeze(stack.cancel_all())

    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "NO_PENDING_UNFREEZE"


async def test_delegating_energy_lends_it_and_undelegating_takes_it_back(stack: StakingStack) -> None:
    receiver = stack.activated_address("receiver")
    await stack.stub.FreezeBalance(stack.freeze(ENERGY, 100 * TRX))
    stack.settle()

    await stack.stub.DelegateResource(stack.delegate(receiver, ENERGY, 40 * TRX))
    stack.settle()
    lent = await stack.resources()
    borrowed = await stack.resources(receiver)
    await stack.stub.UndelegateResource(stack.undelegate(receiver, ENERGY, 40 * TRX))
    stack.settle()

    (delegation,) = lent.delegations
    assert (delegation.receiver_address, delegation.resource, delegation.amount_sun) == (receiver, ENERGY, 40 * TRX)
    assert not delegation.HasField("lock_expire_time")
    assert lent.resources.delegated_energy_out_sun == 40 * TRX
    assert lent.delegatable_energy_sun == 60 * TRX
    assert borrowed.resources.delegated_energy_in_sun == 40 * TRX
    assert list((await stack.resources()).delegations) == []
    assert (await stack.resources(receiver)).resources.delegated_energy_in_sun == 0


async def test_a_locked_delegation_cannot_be_taken_back_before_its_lock_ends(stack: StakingStack) -> None:
    receiver = stack.activated_address("receiver")
    await stack.stub.FreezeBalance(stack.freeze(ENERGY, 100 * TRX))
    stack.settle()
    await stack.stub.DelegateResource(stack.delegate(receiver, ENERGY, 10 * TRX, lock=True, lock_period_blocks=1_000))
    stack.settle()

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.UndelegateResource(stack.undelegate(receiver, ENERGY, 10 * TRX))

    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "DELEGATION_LOCKED"
    (delegation,) = (await stack.resources()).delegations
    assert delegation.lock_expire_time.ToSeconds() > 0


async def test_delegating_to_an_unactivated_address_is_a_precondition(stack: StakingStack) -> None:
    await stack.stub.FreezeBalance(stack.freeze(ENERGY, 100 * TRX))
    stack.settle()

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.DelegateResource(stack.delegate(fresh_address(), ENERGY, 10 * TRX))

    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "RECEIVER_NOT_ACTIVATED"


async def test_delegating_more_than_the_stake_allows_is_a_precondition(stack: StakingStack) -> None:
    await stack.stub.FreezeBalance(stack.freeze(ENERGY, 10 * TRX))
    stack.settle()

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.DelegateResource(stack.delegate(stack.activated_address(), ENERGY, 11 * TRX))

    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "DELEGATION_EXCEEDS_AVAILABLE"


async def test_undelegating_more_than_delegated_is_a_precondition(stack: StakingStack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.UndelegateResource(stack.undelegate(stack.activated_address(), ENERGY, TRX))

    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "UNDELEGATION_EXCEEDS_DELEGATED"


async def test_a_lock_period_beyond_the_chains_maximum_is_invalid(stack: StakingStack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.DelegateResource(
            stack.delegate(stack.activated_address(), ENERGY, TRX, lock=True, lock_period_blocks=86_401)
        )

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(raised.value) == "LOCK_PERIOD_OUT_OF_RANGE"


async def test_an_address_outside_the_wallet_is_refused_by_the_signer(stack: StakingStack) -> None:
    outsider = stack.activated_address("outsider")
    stack.devnet.fund(outsider, trx_sun=100 * TRX)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.FreezeBalance(stack.freeze(ENERGY, 10 * TRX, owner_address=outsider))

    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "NOT_A_WALLET_ADDRESS"
    assert stack.settle() == ()


async def test_each_signed_change_is_stored_and_audited(stack: StakingStack) -> None:
    sent = await stack.stub.FreezeBalance(stack.freeze(ENERGY, 10 * TRX))

    client: AsyncMongoClient = AsyncMongoClient(stack.mongo_url)
    try:
        db = client[stack.database]
        stored = await db.transactions.find_one({"_id": sent.transaction.txid})
        audited = await db.audit_log.find_one({"details.txid": sent.transaction.txid})
    finally:
        await client.close()
    assert (stored["kind"], stored["state"], stored["amount_sun"], stored["resource"]) == (
        "FreezeBalance", "BROADCAST", 10 * TRX, "ENERGY"
    )
    assert audited["action"] == "transaction.sign"


async def test_resources_of_a_never_activated_address_are_empty(stack: StakingStack) -> None:
    found = await stack.resources(fresh_address())

    assert (found.resources.energy_limit, found.withdrawable_sun) == (0, 0)
    assert (list(found.delegations), list(found.pending_unfreezes)) == ([], [])


async def test_a_forecast_of_staked_energy_counts_the_transfers_it_pays_for(stack: StakingStack) -> None:
    await stack.stub.FreezeBalance(stack.freeze(ENERGY, 9_000 * TRX))
    stack.settle()

    found = await stack.stub.ForecastResources(
        staking_pb2.ForecastResourcesRequest(address=stack.owner, planned_usdt_transfers=2,
                                             target_usdt_transfers_per_day=10)
    )

    assert found.energy_per_day == (await stack.resources()).resources.energy_limit
    assert found.usdt_transfers_to_holders_per_day == found.energy_per_day // found.energy_per_transfer_to_holder
    assert found.usdt_transfers_to_holders_per_day >= 1
    assert len(found.hourly) == 25 and found.hourly[0].energy_available == found.energy_per_day
    assert found.planned_usdt_transfers == 2
    assert found.stake_needed_sun > 0 and found.daily_burn_without_stake_sun > 0


async def test_a_write_whose_broadcast_failed_sends_the_stored_bytes_when_retried(stack: StakingStack) -> None:
    request = stack.freeze(ENERGY, 10 * TRX)
    stack.devnet.faults.add(status=503, paths=["/wallet/broadcast"], count=10)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.FreezeBalance(request)
    stack.devnet.faults.clear()
    client: AsyncMongoClient = AsyncMongoClient(stack.mongo_url)
    try:
        stored = await client[stack.database].transactions.find_one({"request.request_id": request.request_id})
    finally:
        await client.close()
    sent = await stack.stub.FreezeBalance(request)

    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert stored["state"] == "SIGNED"
    assert sent.transaction.txid == stored["_id"]
    assert stack.settle() == (stored["_id"],)


async def test_the_audit_entry_of_a_signature_names_the_calling_operator(
    devnet, mongo_url, tmp_path, tmp_path_factory
) -> None:
    pki = PkiDirectory(tmp_path_factory.mktemp("staking-pki") / "pki")
    pki.init_ca()
    for service in ("staking", "wallet-manager", "tron-client"):
        pki.issue_service(service)
    pki.issue_operator("alice")

    async with staking_stack(devnet, mongo_url, tmp_path, pki=pki, operator="alice") as stack:
        sent = await stack.stub.FreezeBalance(stack.freeze(ENERGY, 10 * TRX))

    client: AsyncMongoClient = AsyncMongoClient(mongo_url)
    try:
        audited = await client[stack.database].audit_log.find_one({"details.txid": sent.transaction.txid})
    finally:
        await client.close()
    assert audited["principal"] == "spiffe://lucid/operator/alice"

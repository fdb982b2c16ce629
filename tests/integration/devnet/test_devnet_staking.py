"""Stake 2.0 over TronGrid's paths: freeze, unfreeze with a delay, withdraw, delegate and undelegate (with lock)."""

from __future__ import annotations

import asyncio

import pytest
from fixtures.transactions import signed_json

from lucid_tron.chain import (
    delegate_resource,
    freeze_balance_v2,
    sign_transaction,
    transaction_from_json,
    transaction_to_json,
    undelegate_resource,
    unfreeze_balance_v2,
    withdraw_expire_unfreeze,
)

TRX = 1_000_000


def message(answer: dict) -> str:
    return bytes.fromhex(answer["message"]).decode()


async def settle(devnet, http, tx_json: dict) -> dict:
    answer = await http.post(devnet, "/wallet/broadcasttransaction", tx_json)
    assert answer.get("result") is True, answer
    devnet.produce_block()
    return await http.post(devnet, "/wallet/gettransactioninfobyid", {"value": tx_json["txID"]})


async def account(devnet, http, address: str) -> dict:
    return await http.post(devnet, "/wallet/getaccount", {"address": address, "visible": True})


@pytest.fixture
async def quick(start_devnet):
    """A manual devnet whose unstaked TRX is withdrawable after 0.3 s."""
    async with start_devnet(block_interval=0, unfreeze_delay_s=0.3) as running:
        yield running


async def test_freezebalancev2_built_by_the_node_stakes_for_energy(quick, devnet_http, devnet_accounts):
    owner = devnet_accounts[0]
    built = await devnet_http.post(quick, "/wallet/freezebalancev2", {
        "owner_address": owner.address, "frozen_balance": 2_000 * TRX, "resource": "ENERGY", "visible": True,
    })
    assert built["visible"] is True
    assert built["raw_data"]["contract"][0]["parameter"]["value"]["owner_address"] == owner.address
    tx = transaction_to_json(sign_transaction(transaction_from_json(built), owner.key))

    await settle(quick, devnet_http, tx)

    view = await account(quick, devnet_http, owner.address)
    assert view["frozenV2"] == [{}, {"type": "ENERGY", "amount": 2_000 * TRX}, {"type": "TRON_POWER"}]
    assert view["balance"] == 8_000 * TRX
    resource = await devnet_http.post(quick, "/wallet/getaccountresource", {"address": owner.address, "visible": True})
    assert resource["tronPowerLimit"] == 2_000


async def test_the_node_refuses_to_build_an_invalid_freeze(quick, devnet_http, devnet_accounts):
    answer = await devnet_http.post(quick, "/wallet/freezebalancev2", {
        "owner_address": devnet_accounts[0].address, "frozen_balance": 500_000, "resource": "ENERGY", "visible": True,
    })

    assert answer == {"Error": "class org.tron.core.exception.ContractValidateException : "
                               "frozenBalance must be greater than or equal to 1 TRX"}


async def test_unfrozen_trx_is_withdrawable_only_after_the_delay(quick, devnet_http, devnet_accounts):
    owner = devnet_accounts[0]
    await settle(quick, devnet_http, signed_json(quick, owner.key, freeze_balance_v2(owner.address, 100 * TRX, "BANDWIDTH")))
    unfreeze = unfreeze_balance_v2(owner.address, 40 * TRX, "BANDWIDTH")
    await settle(quick, devnet_http, signed_json(quick, owner.key, unfreeze))

    early = await devnet_http.post(quick, "/wallet/broadcasttransaction",
                                   signed_json(quick, owner.key, withdraw_expire_unfreeze(owner.address)))
    view = await account(quick, devnet_http, owner.address)
    await asyncio.sleep(0.35)
    info = await settle(quick, devnet_http, signed_json(quick, owner.key, withdraw_expire_unfreeze(owner.address)))

    assert message(early) == "contract validate error : no unFreeze balance to withdraw "
    assert view["unfrozenV2"][0]["unfreeze_amount"] == 40 * TRX
    assert view["frozenV2"][0] == {"amount": 60 * TRX}
    assert info["withdraw_expire_amount"] == 40 * TRX
    assert "unfrozenV2" not in await account(quick, devnet_http, owner.address)


async def test_delegated_energy_moves_the_energy_limit_to_the_receiver(quick, devnet_http, devnet_accounts):
    owner, receiver = devnet_accounts[0], devnet_accounts[1]
    await settle(quick, devnet_http, signed_json(quick, owner.key, freeze_balance_v2(owner.address, 3_000 * TRX, "ENERGY")))
    await settle(quick, devnet_http, signed_json(
        quick, owner.key, delegate_resource(owner.address, receiver.address, 1_000 * TRX, "ENERGY")))

    given = await devnet_http.post(quick, "/wallet/getdelegatedresourcev2", {
        "fromAddress": owner.address, "toAddress": receiver.address, "visible": True})
    index = await devnet_http.post(quick, "/wallet/getdelegatedresourceaccountindexv2", {
        "value": receiver.address, "visible": True})
    left = await devnet_http.post(quick, "/wallet/getcandelegatedmaxsize", {
        "owner_address": owner.address, "type": 1, "visible": True})
    receiver_resource = await devnet_http.post(quick, "/wallet/getaccountresource", {
        "address": receiver.address, "visible": True})

    assert given == {"delegatedResource": [
        {"from": owner.address, "to": receiver.address, "frozen_balance_for_energy": 1_000 * TRX}]}
    assert index == {"account": receiver.address, "fromAccounts": [owner.address]}
    assert left == {"max_size": 2_000 * TRX}
    assert receiver_resource["EnergyLimit"] == 1_000 * 90_000_000_000 // (9_000_000_000 + 3_000)
    owner_view = await account(quick, devnet_http, owner.address)
    assert owner_view["account_resource"]["delegated_frozenV2_balance_for_energy"] == 1_000 * TRX


async def test_undelegating_gives_the_stake_back(quick, devnet_http, devnet_accounts):
    owner, receiver = devnet_accounts[0], devnet_accounts[1]
    await settle(quick, devnet_http, signed_json(quick, owner.key, freeze_balance_v2(owner.address, 500 * TRX, "BANDWIDTH")))
    await settle(quick, devnet_http, signed_json(
        quick, owner.key, delegate_resource(owner.address, receiver.address, 200 * TRX, "BANDWIDTH")))

    await settle(quick, devnet_http, signed_json(
        quick, owner.key, undelegate_resource(owner.address, receiver.address, 200 * TRX, "BANDWIDTH")))

    assert await devnet_http.post(quick, "/wallet/getdelegatedresourcev2", {
        "fromAddress": owner.address, "toAddress": receiver.address, "visible": True}) == {}
    assert (await account(quick, devnet_http, owner.address))["frozenV2"][0] == {"amount": 500 * TRX}


async def test_a_locked_delegation_cannot_be_taken_back_before_its_lock_ends(quick, devnet_http, devnet_accounts):
    owner, receiver = devnet_accounts[0], devnet_accounts[1]
    await settle(quick, devnet_http, signed_json(quick, owner.key, freeze_balance_v2(owner.address, 500 * TRX, "ENERGY")))
    await settle(quick, devnet_http, signed_json(quick, owner.key, delegate_resource(
        owner.address, receiver.address, 100 * TRX, "ENERGY", lock=True, lock_period=100)))

    answer = await devnet_http.post(quick, "/wallet/broadcasttransaction", signed_json(
        quick, owner.key, undelegate_resource(owner.address, receiver.address, 100 * TRX, "ENERGY")))
    record = (await devnet_http.post(quick, "/wallet/getdelegatedresourcev2", {
        "fromAddress": owner.address, "toAddress": receiver.address, "visible": True}))["delegatedResource"][0]

    assert message(answer) == (
        f"contract validate error : insufficient delegatedFrozenBalance(ENERGY), request={100 * TRX}, unlock_balance=0"
    )
    assert record["expire_time_for_energy"] > quick.chain.head.timestamp + 99 * 3_000


async def test_delegating_more_than_the_stake_is_refused(quick, devnet_http, devnet_accounts):
    owner, receiver = devnet_accounts[0], devnet_accounts[1]
    await settle(quick, devnet_http, signed_json(quick, owner.key, freeze_balance_v2(owner.address, 10 * TRX, "ENERGY")))

    answer = await devnet_http.post(quick, "/wallet/broadcasttransaction", signed_json(
        quick, owner.key, delegate_resource(owner.address, receiver.address, 11 * TRX, "ENERGY")))

    assert message(answer) == (
        "contract validate error : delegateBalance must be less than or equal to available FreezeEnergyV2 balance"
    )


async def test_the_node_builds_delegate_and_undelegate_transactions(quick, devnet_http, devnet_accounts):
    owner, receiver = devnet_accounts[0], devnet_accounts[1]
    await settle(quick, devnet_http, signed_json(quick, owner.key, freeze_balance_v2(owner.address, 10 * TRX, "ENERGY")))
    body = {"owner_address": owner.address, "receiver_address": receiver.address, "balance": 5 * TRX,
            "resource": "ENERGY", "lock": False, "visible": True}

    delegate = await devnet_http.post(quick, "/wallet/delegateresource", body)
    refused = await devnet_http.post(quick, "/wallet/undelegateresource", body)

    assert delegate["raw_data"]["contract"][0]["type"] == "DelegateResourceContract"
    assert "delegated Resource does not exist" in refused["Error"]

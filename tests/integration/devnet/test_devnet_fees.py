"""Bandwidth and energy: free 600 points a day, then 1,000 SUN a point; energy from stake first, then 100 SUN each;
fee_limit caps a contract call (OUT_OF_ENERGY); the native USDT contract's transfers, approvals and reverts."""

from __future__ import annotations

import hashlib

import pytest
from fixtures.transactions import signed_json

from lucid_tron.chain import (
    PrivateKey,
    encode_call,
    freeze_balance_v2,
    keccak256,
    protocol,
    selector,
    transaction_from_json,
    transfer_contract,
    trc20_transfer,
    trigger_smart_contract,
)
from lucid_tron.devnet import TRC20_ENERGY


def size_with_result(tx_json: dict) -> int:
    """What bandwidth a transaction costs: its serialized size (signatures included) + 64 result bytes."""
    return transaction_from_json(tx_json).ByteSize() + 64


def fresh_address(name: str) -> str:
    return PrivateKey(hashlib.sha256(name.encode()).digest()).address


def call_usdt(devnet, account, data: bytes) -> dict:
    """A signed call of the USDT contract by `account` with ABI `data` (fee_limit 50 TRX)."""
    contract = trigger_smart_contract(account.address, devnet.usdt_address, data)
    return signed_json(devnet, account.key, contract, fee_limit_sun=50_000_000)


async def settle(devnet, http, tx_json: dict) -> dict:
    answer = await http.post(devnet, "/wallet/broadcasttransaction", tx_json)
    assert answer.get("result") is True, answer
    devnet.produce_block()
    return await http.post(devnet, "/wallet/gettransactioninfobyid", {"value": tx_json["txID"], "visible": True})


async def test_a_trx_transfer_uses_free_bandwidth_first(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000))

    info = await settle(devnet, devnet_http, tx)

    assert info["receipt"] == {"net_usage": size_with_result(tx)}
    assert "fee" not in info
    resource = await devnet_http.post(
        devnet, "/wallet/getaccountresource", {"address": sender.address, "visible": True}
    )
    assert resource["freeNetUsed"] == size_with_result(tx)


async def test_bandwidth_beyond_the_free_600_points_is_burned_at_1000_sun_a_point(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    receipts = []
    for amount in (1, 2, 3):
        tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, amount))
        receipts.append((tx, await settle(devnet, devnet_http, tx)))

    burned_tx, burned = receipts[2]
    assert burned["receipt"] == {"net_fee": size_with_result(burned_tx) * 1_000}
    assert burned["fee"] == size_with_result(burned_tx) * 1_000


async def test_a_usdt_transfer_to_a_holder_burns_64285_energy_at_100_sun(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, trc20_transfer(sender.address, devnet.usdt_address, receiver.address, 5),
                fee_limit_sun=50_000_000)

    info = await settle(devnet, devnet_http, tx)

    assert info["receipt"]["energy_usage_total"] == 64_285
    assert info["receipt"]["energy_fee"] == 6_428_500
    assert info["receipt"]["result"] == "SUCCESS"
    assert info["contract_address"] == devnet.usdt_address
    assert info["contractResult"] == [bytes(32).hex()]  # mainnet USDT's transfer returns false on success


async def test_a_usdt_transfer_to_a_new_holder_costs_130285_energy(devnet, devnet_http, devnet_accounts):
    sender = devnet_accounts[0]
    tx = signed_json(devnet, sender.key, trc20_transfer(sender.address, devnet.usdt_address, fresh_address("new"), 5),
                fee_limit_sun=50_000_000)

    info = await settle(devnet, devnet_http, tx)

    assert info["receipt"]["energy_usage_total"] == 130_285


async def test_the_transfer_event_log_has_tronGrids_shape(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, trc20_transfer(sender.address, devnet.usdt_address, receiver.address, 5),
                fee_limit_sun=50_000_000)
    await settle(devnet, devnet_http, tx)

    info = await devnet_http.post(devnet, "/wallet/gettransactioninfobyid", {"value": tx["txID"]})

    [log] = info["log"]
    usdt_hex = devnet.chain.token.address.hex()
    assert log["address"] == usdt_hex[2:]  # 20 bytes, no 41 prefix, when visible is false
    assert info["contract_address"] == usdt_hex
    assert log["topics"] == [
        "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",
        encode_call("f(address)", sender.address)[4:].hex(),
        encode_call("f(address)", receiver.address)[4:].hex(),
    ]
    assert log["data"] == (5).to_bytes(32, "big").hex()


async def test_staked_energy_is_used_before_trx_is_burned(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    stake = freeze_balance_v2(sender.address, 6_500_000_000, "ENERGY")  # ~65,000 energy
    await settle(devnet, devnet_http, signed_json(devnet, sender.key, stake))
    tx = signed_json(devnet, sender.key, trc20_transfer(sender.address, devnet.usdt_address, receiver.address, 5),
                fee_limit_sun=50_000_000)

    info = await settle(devnet, devnet_http, tx)

    assert info["receipt"]["energy_usage"] == 64_285
    assert "energy_fee" not in info["receipt"]
    resource = await devnet_http.post(
        devnet, "/wallet/getaccountresource", {"address": sender.address, "visible": True}
    )
    assert resource["EnergyUsed"] == 64_285


async def test_a_fee_limit_too_small_ends_out_of_energy_and_changes_nothing(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, trc20_transfer(sender.address, devnet.usdt_address, receiver.address, 5),
                fee_limit_sun=1_000_000)

    info = await settle(devnet, devnet_http, tx)

    assert info["receipt"]["result"] == "OUT_OF_ENERGY"
    assert info["receipt"]["energy_fee"] == 1_000_000  # every energy the fee_limit allowed is spent
    assert info["result"] == "FAILED"
    assert "Not enough energy" in info["resMessage"]
    assert devnet.usdt_balance(receiver.address) == 1_000_000_000
    block = await devnet_http.post(devnet, "/wallet/gettransactionbyid", {"value": tx["txID"]})
    assert block["ret"] == [{"contractRet": "OUT_OF_ENERGY"}]


async def test_a_fee_limit_above_15000_trx_is_refused(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, trc20_transfer(sender.address, devnet.usdt_address, receiver.address, 5),
                fee_limit_sun=15_000_000_001)

    answer = await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)

    assert answer["code"] == "CONTRACT_VALIDATE_ERROR"
    assert bytes.fromhex(answer["message"]).decode().endswith("feeLimit must be >= 0 and <= 15000000000")


async def test_a_usdt_transfer_above_the_balance_reverts_with_an_error_string(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, trc20_transfer(sender.address, devnet.usdt_address, receiver.address, 10**15),
                fee_limit_sun=50_000_000)

    info = await settle(devnet, devnet_http, tx)

    assert info["receipt"]["result"] == "REVERT"
    assert info["resMessage"] == "REVERT opcode executed"
    revert = bytes.fromhex(info["contractResult"][0])
    assert revert[:4] == selector("Error(string)")
    assert revert[68:68 + int.from_bytes(revert[36:68], "big")] == b"transfer amount exceeds balance"
    assert info["receipt"]["energy_usage_total"] == TRC20_ENERGY.REVERT
    assert "log" not in info


async def test_approve_then_transfer_from_moves_usdt_and_spends_the_allowance(devnet, devnet_http, devnet_accounts):
    owner, spender, receiver = devnet_accounts
    approve = encode_call("approve(address,uint256)", spender.address, 300)
    approval = await settle(devnet, devnet_http, call_usdt(devnet, owner, approve))
    pull = encode_call("transferFrom(address,address,uint256)", owner.address, receiver.address, 200)
    pulled = await settle(devnet, devnet_http, call_usdt(devnet, spender, pull))

    assert approval["log"][0]["topics"][0] == keccak256(b"Approval(address,address,uint256)").hex()
    assert pulled["receipt"]["result"] == "SUCCESS"
    allowance = await devnet_http.post(devnet, "/wallet/triggerconstantcontract", {
        "owner_address": owner.address, "contract_address": devnet.usdt_address, "visible": True,
        "function_selector": "allowance(address,address)",
        "parameter": encode_call("f(address,address)", owner.address, spender.address)[4:].hex(),
    })
    assert int(allowance["constant_result"][0], 16) == 100
    assert devnet.usdt_balance(receiver.address) == 1_000_000_200


async def test_transfer_from_beyond_the_allowance_reverts(devnet, devnet_http, devnet_accounts):
    owner, spender, receiver = devnet_accounts
    pull = encode_call("transferFrom(address,address,uint256)", owner.address, receiver.address, 1)
    info = await settle(devnet, devnet_http, call_usdt(devnet, spender, pull))

    assert info["receipt"]["result"] == "REVERT"


@pytest.mark.parametrize("resource", ["BANDWIDTH", "ENERGY"])
async def test_freezing_more_than_the_balance_is_refused(devnet, devnet_http, devnet_accounts, resource):
    owner = devnet_accounts[0]
    tx = signed_json(devnet, owner.key, freeze_balance_v2(owner.address, 10_000_000_001, resource))

    answer = await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)

    assert bytes.fromhex(answer["message"]).decode() == (
        "contract validate error : frozenBalance must be less than or equal to accountBalance"
    )


async def test_the_stored_transaction_carries_its_contract_result(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, trc20_transfer(sender.address, devnet.usdt_address, receiver.address, 5),
                fee_limit_sun=50_000_000)
    await settle(devnet, devnet_http, tx)

    stored = devnet.chain.blocks[devnet.head_number].transactions[0]

    assert protocol.Transaction.FromString(stored).ret[0].contractRet == protocol.Transaction.Result.SUCCESS

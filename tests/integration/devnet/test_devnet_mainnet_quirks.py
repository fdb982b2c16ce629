"""Where mainnet differs from a naive simulator, devnet does what mainnet does (notes/tron-facts.md)."""

from __future__ import annotations

import asyncio
import hashlib
import time

from fixtures.transactions import signed_json

from lucid_tron.chain import (
    TRANSFER_EVENT_TOPIC,
    PrivateKey,
    decode_address,
    encode_call,
    selector,
    transfer_contract,
    trc20_transfer,
    trigger_smart_contract,
)

FEE_LIMIT = 50_000_000


def fresh_address(name: str) -> str:
    return PrivateKey(hashlib.sha256(name.encode()).digest()).address


async def land(devnet, http, tx: dict) -> dict:
    """Broadcast `tx`, seal it into a block, return its receipt."""
    answer = await http.post(devnet, "/wallet/broadcasttransaction", tx)
    assert answer.get("result") is True, answer
    devnet.produce_block()
    return await http.post(devnet, "/wallet/gettransactioninfobyid", {"value": tx["txID"]})


def call(devnet, account, contract_address: str, data: bytes, fee_limit: int = FEE_LIMIT) -> dict:
    return signed_json(devnet, account.key, trigger_smart_contract(account.address, contract_address, data),
                  fee_limit_sun=fee_limit)


async def test_a_successful_usdt_transfer_returns_false_with_a_success_receipt_and_a_transfer_log(
    devnet, devnet_http, devnet_accounts
):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, trc20_transfer(sender.address, devnet.usdt_address, receiver.address, 5),
                fee_limit_sun=FEE_LIMIT)

    info = await land(devnet, devnet_http, tx)

    assert info["contractResult"] == [bytes(32).hex()]
    assert info["receipt"]["result"] == "SUCCESS"
    [log] = info["log"]
    assert bytes.fromhex(log["topics"][0]) == TRANSFER_EVENT_TOPIC and int(log["data"], 16) == 5
    assert devnet.usdt_balance(receiver.address) == 1_000_000_005


async def test_a_transfer_whose_address_word_has_dirty_padding_pays_the_masked_address(
    devnet, devnet_http, devnet_accounts
):
    sender = devnet_accounts[0]
    receiver = fresh_address("masked receiver")
    clean = encode_call("transfer(address,uint256)", receiver, 42)
    dirty_word = b"\xde\xad" + bytes(10) + clean[4 + 12 : 4 + 32]
    data = selector("transfer(address,uint256)") + dirty_word + clean[36:]

    info = await land(devnet, devnet_http, call(devnet, sender, devnet.usdt_address, data))

    assert info["receipt"]["result"] == "SUCCESS"
    assert devnet.usdt_balance(receiver) == 42
    assert info["log"][0]["topics"][2] == bytes(12).hex() + decode_address(receiver)[1:].hex()


async def test_an_included_transaction_rebroadcast_after_its_expiry_is_expired_not_a_duplicate(
    devnet, devnet_http, devnet_accounts
):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    expiration = int(time.time() * 1000) + 1_500
    tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000),
                expiration_ms=expiration)
    await land(devnet, devnet_http, tx)
    before_expiry = await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)
    await asyncio.sleep(max(0.0, expiration / 1000 - time.time()) + 0.1)

    after_expiry = await devnet_http.post(devnet, "/wallet/broadcasttransaction", {**tx, "visible": True})

    assert before_expiry["code"] == "DUP_TRANSACTION_ERROR"
    assert after_expiry["code"] == "TRANSACTION_EXPIRATION_ERROR"


async def test_estimateenergy_can_be_below_the_cost_when_a_maintenance_period_raises_the_energy_factor(
    start_devnet, devnet_http, devnet_accounts
):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    async with start_devnet(block_interval=0, usdt_energy_factors=(0, 5_000), maintenance_period_blocks=2) as devnet:
        devnet.produce_block()  # head 1 is in period 0; the next block, 2, starts period 1
        parameter = encode_call("transfer(address,uint256)", receiver.address, 1)[4:].hex()
        query = {"owner_address": sender.address, "contract_address": devnet.usdt_address, "visible": True,
                 "function_selector": "transfer(address,uint256)", "parameter": parameter}
        estimate = await devnet_http.post(devnet, "/wallet/estimateenergy", query)
        constant = await devnet_http.post(devnet, "/wallet/triggerconstantcontract", query)
        data = encode_call("transfer(address,uint256)", receiver.address, 1)

        info = await land(devnet, devnet_http,
                          call(devnet, sender, devnet.usdt_address, data, fee_limit=estimate["energy_required"] * 100))
        state = await devnet_http.post(devnet, "/wallet/getcontractinfo",
                                       {"value": devnet.usdt_address, "visible": True})
        paid = await land(devnet, devnet_http, call(devnet, sender, devnet.usdt_address, data))

    assert estimate["energy_required"] == constant["energy_used"] == 64_285
    assert info["receipt"]["result"] == "OUT_OF_ENERGY"
    assert info["receipt"]["energy_fee"] == estimate["energy_required"] * 100  # all of the fee limit, burned
    assert state["contract_state"] == {"energy_factor": 5_000, "update_cycle": 1}
    assert paid["receipt"]["energy_usage_total"] == 64_285 * 15_000 // 10_000


async def test_the_lookalike_token_has_usdts_name_symbol_and_decimals_at_another_address(
    devnet, devnet_http, devnet_accounts
):
    owner = devnet_accounts[0].address
    answers = {}
    for contract in (devnet.usdt_address, devnet.lookalike_address):
        for view in ("name()", "symbol()", "decimals()"):
            answer = await devnet_http.post(devnet, "/wallet/triggerconstantcontract", {
                "owner_address": owner, "contract_address": contract, "function_selector": view, "visible": True})
            answers[contract, view] = answer["constant_result"][0]
        described = await devnet_http.post(devnet, "/wallet/getcontract", {"value": contract, "visible": True})
        answers[contract, "name"] = described["name"]

    assert devnet.lookalike_address != devnet.usdt_address
    for key in ("name()", "symbol()", "decimals()", "name"):
        assert answers[devnet.usdt_address, key] == answers[devnet.lookalike_address, key]


async def test_a_lookalike_transfer_logs_the_lookalike_contract_and_moves_no_usdt(
    devnet, devnet_http, devnet_accounts
):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    devnet.fund(sender.address, lookalike_units=1_000)
    data = encode_call("transfer(address,uint256)", receiver.address, 700)

    info = await land(devnet, devnet_http, call(devnet, sender, devnet.lookalike_address, data))

    assert info["receipt"]["result"] == "SUCCESS"
    assert info["log"][0]["address"] == decode_address(devnet.lookalike_address)[1:].hex()
    assert devnet.lookalike_balance(receiver.address) == 700
    assert devnet.usdt_balance(receiver.address) == 1_000_000_000


async def test_usdt_moved_by_another_contract_shows_only_in_the_usdt_transfer_log(
    devnet, devnet_http, devnet_accounts
):
    payer, merchant = devnet_accounts[0], fresh_address("merchant behind a forwarder")
    approve = encode_call("approve(address,uint256)", devnet.forwarder_address, 2_500)
    await land(devnet, devnet_http, call(devnet, payer, devnet.usdt_address, approve))
    forward = encode_call("forward(address,address,uint256)", devnet.usdt_address, merchant, 2_500)

    tx = call(devnet, payer, devnet.forwarder_address, forward)
    info = await land(devnet, devnet_http, tx)

    top_level = tx["raw_data"]["contract"][0]["parameter"]["value"]
    assert decode_address(top_level["contract_address"]) == decode_address(devnet.forwarder_address)
    assert info["receipt"]["result"] == "SUCCESS"
    assert info["contract_address"] == decode_address(devnet.forwarder_address).hex()
    [log] = info["log"]
    assert log["address"] == decode_address(devnet.usdt_address)[1:].hex()
    assert log["topics"][1][24:] == decode_address(payer.address)[1:].hex()
    assert log["topics"][2][24:] == decode_address(merchant)[1:].hex()
    assert devnet.usdt_balance(merchant) == 2_500
    [internal] = info["internal_transactions"]
    assert (internal["caller_address"], internal["transferTo_address"], internal["note"]) == (
        decode_address(devnet.forwarder_address).hex(), decode_address(devnet.usdt_address).hex(), b"call".hex())

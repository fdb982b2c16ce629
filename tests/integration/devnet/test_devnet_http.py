"""The HTTP surface: visible, java-tron's answer shapes, node-built transactions, and errors that are never a 500."""

from __future__ import annotations

import hashlib

import pytest

from lucid_tron.chain import (
    PrivateKey,
    decode_address,
    encode_call,
    sign_transaction,
    to_hex,
    transaction_from_json,
    transaction_to_json,
)


async def test_an_unknown_path_is_a_404_with_a_json_body(devnet, devnet_http):
    status, body = await devnet_http.post_status(devnet, "/wallet/nosuchpath")

    assert status == 404
    assert "Error" in body


async def test_malformed_json_is_a_java_style_error_body(devnet, devnet_http):
    async with devnet_http.session.post(f"{devnet.url}/wallet/getaccount", data=b"{not json") as response:
        body = await response.json(content_type=None)

    assert response.status == 200
    assert body["Error"].startswith("class com.alibaba.fastjson.JSONException : ")


async def test_a_json_body_that_is_not_an_object_is_an_error_body(devnet, devnet_http):
    assert "Error" in await devnet_http.post(devnet, "/wallet/getaccount", ["TXYZ"])


@pytest.mark.parametrize(
    "body",
    [
        {"address": "TNotAnAddressAtAll", "visible": True},
        {"address": "41" + "00" * 19, "visible": False},
        {"address": "TCPrNU1gePQ5BnoGe8vg6yyDqNwmHExBEw", "visible": False},  # base58 without visible=true
        {"address": to_hex("TCPrNU1gePQ5BnoGe8vg6yyDqNwmHExBEw"), "visible": True},  # hex with visible=true
        {"address": 12, "visible": True},
        {"visible": True},
    ],
)
async def test_a_bad_address_is_an_error_body_not_a_500(devnet, devnet_http, body):
    status, answer = await devnet_http.post_status(devnet, "/wallet/getaccount", body)

    assert status == 200
    assert "Error" in answer


async def test_visible_chooses_base58_or_hex_addresses(devnet, devnet_http, devnet_accounts):
    owner = devnet_accounts[0]

    as_base58 = await devnet_http.post(devnet, "/wallet/getaccount", {"address": owner.address, "visible": True})
    as_hex = await devnet_http.post(devnet, "/wallet/getaccount", {"address": to_hex(owner.address)})

    assert as_base58["address"] == owner.address
    assert as_hex["address"] == to_hex(owner.address)
    assert as_hex["owner_permission"]["keys"] == [{"address": to_hex(owner.address), "weight": 1}]
    assert as_base58["balance"] == as_hex["balance"] == 10_000_000_000


async def test_an_account_that_does_not_exist_is_an_empty_object(devnet, devnet_http):
    unknown = PrivateKey(hashlib.sha256(b"nobody").digest()).address

    assert await devnet_http.post(devnet, "/wallet/getaccount", {"address": unknown, "visible": True}) == {}
    assert await devnet_http.post(devnet, "/wallet/getaccountresource", {"address": unknown, "visible": True}) == {}


async def test_get_requests_with_query_parameters_are_served(devnet, devnet_http, devnet_accounts):
    status, block = await devnet_http.get_status(devnet, "/wallet/getnowblock", {"visible": "true"})
    status_account, account = await devnet_http.get_status(
        devnet, "/wallet/getaccount", {"address": devnet_accounts[0].address, "visible": "true"})

    assert (status, status_account) == (200, 200)
    assert block["blockID"] == devnet.genesis_block_id
    assert account["address"] == devnet_accounts[0].address


async def test_createtransaction_builds_a_transaction_on_the_head_that_can_be_signed(
    devnet, devnet_http, devnet_accounts
):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    devnet.produce_blocks(3)
    built = await devnet_http.post(devnet, "/wallet/createtransaction", {
        "owner_address": sender.address, "to_address": receiver.address, "amount": 1_000_000, "visible": True})

    assert built["txID"] == hashlib.sha256(bytes.fromhex(built["raw_data_hex"])).hexdigest()
    assert built["raw_data"]["ref_block_bytes"] == "0003"
    assert built["raw_data"]["ref_block_hash"] == devnet.chain.head.id[8:16].hex()
    assert built["raw_data"]["contract"][0]["parameter"]["value"] == {
        "owner_address": sender.address, "to_address": receiver.address, "amount": 1_000_000}
    signed = transaction_to_json(sign_transaction(transaction_from_json(built), sender.key))
    assert await devnet_http.post(devnet, "/wallet/broadcasttransaction", signed) == {
        "result": True, "txid": built["txID"]}


async def test_createtransaction_refuses_what_would_not_validate(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]

    answer = await devnet_http.post(devnet, "/wallet/createtransaction", {
        "owner_address": sender.address, "to_address": receiver.address, "amount": 10**14, "visible": True})

    assert answer == {"Error": "class org.tron.core.exception.ContractValidateException : "
                               "Validate TransferContract error, balance is not sufficient."}


async def test_triggersmartcontract_builds_a_usdt_transfer_with_the_fee_limit(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    answer = await devnet_http.post(devnet, "/wallet/triggersmartcontract", {
        "owner_address": sender.address, "contract_address": devnet.usdt_address,
        "function_selector": "transfer(address,uint256)",
        "parameter": encode_call("f(address,uint256)", receiver.address, 5)[4:].hex(),
        "fee_limit": 30_000_000, "call_value": 0, "visible": True})

    assert answer["result"] == {"result": True}
    raw = answer["transaction"]["raw_data"]
    assert raw["fee_limit"] == 30_000_000
    assert raw["contract"][0]["parameter"]["value"]["data"] == encode_call(
        "transfer(address,uint256)", receiver.address, 5).hex()
    assert raw["contract"][0]["parameter"]["value"]["contract_address"] == devnet.usdt_address


async def test_triggersmartcontract_runs_a_view_function_instead_of_building(devnet, devnet_http, devnet_accounts):
    answer = await devnet_http.post(devnet, "/wallet/triggersmartcontract", {
        "owner_address": devnet_accounts[0].address, "contract_address": devnet.usdt_address,
        "function_selector": "balanceOf(address)",
        "parameter": encode_call("f(address)", devnet_accounts[0].address)[4:].hex(), "visible": True})

    assert int(answer["constant_result"][0], 16) == 1_000_000_000


async def test_triggerconstantcontract_reports_a_revert_in_the_result_message(devnet, devnet_http, devnet_accounts):
    answer = await devnet_http.post(devnet, "/wallet/triggerconstantcontract", {
        "owner_address": devnet_accounts[0].address, "contract_address": devnet.usdt_address,
        "function_selector": "transfer(address,uint256)",
        "parameter": encode_call("f(address,uint256)", devnet_accounts[1].address, 10**18)[4:].hex(),
        "visible": False} | {"owner_address": to_hex(devnet_accounts[0].address),
                             "contract_address": to_hex(devnet.usdt_address)})

    assert answer["result"] == {"result": True, "message": "REVERT opcode executed".encode().hex()}
    assert answer["transaction"]["ret"] == [{"ret": "FAILED"}]


async def test_a_call_to_an_address_without_a_contract_is_a_contract_validate_error(devnet, devnet_http,
                                                                                   devnet_accounts):
    answer = await devnet_http.post(devnet, "/wallet/triggerconstantcontract", {
        "owner_address": devnet_accounts[0].address, "contract_address": devnet_accounts[1].address,
        "function_selector": "balanceOf(address)", "parameter": "00" * 32, "visible": True})

    assert answer["result"]["code"] == "CONTRACT_VALIDATE_ERROR"


async def test_estimateenergy_of_a_reverting_call_is_a_contract_exe_error(devnet, devnet_http, devnet_accounts):
    answer = await devnet_http.post(devnet, "/wallet/estimateenergy", {
        "owner_address": devnet_accounts[0].address, "contract_address": devnet.usdt_address,
        "function_selector": "transfer(address,uint256)",
        "parameter": encode_call("f(address,uint256)", devnet_accounts[1].address, 10**18)[4:].hex(),
        "visible": True})

    assert answer == {"result": {"code": "CONTRACT_EXE_ERROR", "message": "REVERT opcode executed"}}


async def test_getsignweight_answers_the_locally_computed_txid_and_the_owner_permission(
    devnet, devnet_http, devnet_accounts
):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    built = await devnet_http.post(devnet, "/wallet/createtransaction", {
        "owner_address": to_hex(sender.address), "to_address": to_hex(receiver.address), "amount": 1})
    unsigned = {"txID": "", "raw_data": built["raw_data"], "signature": [], "permission": None}

    answer = await devnet_http.post(devnet, "/wallet/getsignweight", unsigned)

    assert answer["transaction"]["txid"] == built["txID"]
    assert answer["transaction"]["transaction"]["txID"] == built["txID"]
    assert answer["permission"]["keys"] == [{"address": to_hex(sender.address), "weight": 1}]
    assert answer["result"] == {"code": "NOT_ENOUGH_PERMISSION"}


async def test_getcontract_describes_the_usdt_contract_and_nothing_else(devnet, devnet_http, devnet_accounts):
    usdt = await devnet_http.post(devnet, "/wallet/getcontract", {"value": devnet.usdt_address, "visible": True})
    other = await devnet_http.post(
        devnet, "/wallet/getcontract", {"value": devnet_accounts[0].address, "visible": True}
    )

    assert usdt["contract_address"] == devnet.usdt_address
    names = {entry["name"] for entry in usdt["abi"]["entrys"]}
    assert {"transfer", "transferFrom", "approve", "allowance", "balanceOf", "decimals", "symbol", "name",
            "totalSupply", "Transfer", "Approval"} <= names
    assert other == {}


async def test_getchainparameters_lists_the_prices_devnet_charges(devnet, devnet_http):
    parameters = {p["key"]: p.get("value", 0) for p in
                  (await devnet_http.post(devnet, "/wallet/getchainparameters"))["chainParameter"]}

    assert (parameters["getEnergyFee"], parameters["getTransactionFee"], parameters["getFreeNetLimit"]) == (
        100, 1_000, 600)


async def test_the_admin_api_funds_an_account_and_produces_blocks(devnet, devnet_http):
    newcomer = PrivateKey(hashlib.sha256(b"newcomer").digest()).address

    funded = await devnet_http.post(devnet, "/devnet/fund", {"address": newcomer, "trx_sun": 7, "usdt_units": 9})
    produced = await devnet_http.post(devnet, "/devnet/produce-block", {"count": 3})

    assert funded == {"address": newcomer, "balance": 7, "usdt_balance": 9, "lookalike_balance": 0}
    assert [b["number"] for b in produced["blocks"]] == [1, 2, 3]
    assert produced["head"] == 3
    account = await devnet_http.post(devnet, "/wallet/getaccount", {"address": newcomer, "visible": True})
    assert account["balance"] == 7


async def test_the_admin_api_refuses_a_bad_fund_request(devnet, devnet_http):
    status, body = await devnet_http.post_status(devnet, "/devnet/fund", {"address": "nope", "trx_sun": 1})

    assert status == 400 and "invalid address" in body["Error"]


async def test_the_usdt_contract_account_is_a_contract_account(devnet, devnet_http):
    account = await devnet_http.post(devnet, "/wallet/getaccount", {"address": devnet.usdt_address, "visible": True})

    assert account["type"] == "Contract"
    assert decode_address(account["address"]) == devnet.chain.token.address


MALFORMED_BODIES = [
    {},
    {"visible": "maybe"},
    {"value": 12, "num": "x", "address": None, "owner_address": ["T"], "id_or_num": {"a": 1}},
    {"value": "zz", "num": 10**30, "startNum": -5, "endNum": "7", "amount": 1.5, "visible": True},
    {"raw_data": {"contract": [{}]}, "signature": "nope"},
    {"raw_data": {"contract": [{"type": "TransferContract", "parameter": {"value": {"amount": "x"}}}]}},
    {"raw_data_hex": "0a", "txID": 5},
    {"transaction": "zz", "function_selector": 7, "parameter": "xyz", "contract_address": "", "data": "q"},
    {"owner_address": "41" + "ab" * 20, "contract_address": "41" + "ab" * 20, "function_selector": "f()",
     "frozen_balance": -1, "resource": "WATER", "balance": 0, "receiver_address": "41" + "ab" * 20,
     "fromAddress": "41" + "ab" * 20, "toAddress": "", "type": 9},
]


async def test_no_malformed_request_makes_any_path_answer_500(devnet, devnet_http):
    from lucid_tron.devnet._wallet import WALLET_PATHS

    failures = []
    for name in WALLET_PATHS:
        for body in MALFORMED_BODIES:
            status, answer = await devnet_http.post_status(devnet, f"/wallet/{name}", body)
            if status >= 500:
                failures.append((name, body, answer))

    assert failures == []

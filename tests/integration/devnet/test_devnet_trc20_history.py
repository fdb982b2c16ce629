"""GET /v1/accounts/{address}/transactions/trc20 in TronGrid's v1 shape, with fingerprint paging and filters."""

from __future__ import annotations

import pytest
from fixtures.transactions import signed_json

from lucid_tron.chain import decode_address, encode_call, trc20_transfer, trigger_smart_contract

PATH = "/v1/accounts/{}/transactions/trc20"


async def send_usdt(devnet, http, sender, receiver: str, amount: int) -> str:
    tx = signed_json(devnet, sender.key, trc20_transfer(sender.address, devnet.usdt_address, receiver, amount),
                fee_limit_sun=50_000_000)
    assert (await http.post(devnet, "/wallet/broadcasttransaction", tx)).get("result") is True
    devnet.produce_block()
    return tx["txID"]


async def call_contract(devnet, http, account, contract: str, data: bytes) -> None:
    tx = signed_json(devnet, account.key, trigger_smart_contract(account.address, contract, data), fee_limit_sun=50_000_000)
    assert (await http.post(devnet, "/wallet/broadcasttransaction", tx)).get("result") is True
    devnet.produce_block()


@pytest.fixture
async def history(devnet, devnet_http, devnet_accounts):
    """Five transfers 0 -> 1 of 1..5 base units, one per block (oldest first), then 20 blocks to solidify them."""
    sender, receiver = devnet_accounts[0], devnet_accounts[1].address
    txids = [await send_usdt(devnet, devnet_http, sender, receiver, n) for n in range(1, 6)]
    devnet.produce_blocks(20)
    return txids


async def get(devnet, http, address: str, **params: str) -> tuple[int, dict]:
    return await http.get_status(devnet, PATH.format(address), params)


async def test_history_entries_have_trongrids_shape(devnet, devnet_http, devnet_accounts, history):
    status, page = await get(devnet, devnet_http, devnet_accounts[1].address, limit="1")

    assert status == 200
    assert page["success"] is True
    [entry] = page["data"]
    assert entry == {
        "transaction_id": history[-1],
        "token_info": {"symbol": "USDT", "address": devnet.usdt_address, "decimals": 6, "name": "Tether USD"},
        "block_timestamp": devnet.chain.blocks[5].timestamp,
        "from": devnet_accounts[0].address,
        "to": devnet_accounts[1].address,
        "type": "Transfer",
        "value": "5",
    }
    assert page["meta"]["page_size"] == 1
    assert "fingerprint" in page["meta"] and "next" in page["meta"]["links"]


async def test_fingerprint_paging_walks_every_entry_once_newest_first(devnet, devnet_http, devnet_accounts, history):
    seen, params = [], {"limit": "2"}
    while True:
        _, page = await get(devnet, devnet_http, devnet_accounts[0].address, **params)
        seen += [entry["transaction_id"] for entry in page["data"]]
        if "fingerprint" not in page["meta"]:
            break
        params = {"limit": "2", "fingerprint": page["meta"]["fingerprint"]}

    assert seen == list(reversed(history))


async def test_ascending_order_is_oldest_first(devnet, devnet_http, devnet_accounts, history):
    _, page = await get(devnet, devnet_http, devnet_accounts[0].address, order_by="block_timestamp,asc")

    assert [e["transaction_id"] for e in page["data"]] == history


async def test_only_confirmed_and_only_unconfirmed_split_at_the_solidified_head(
    devnet, devnet_http, devnet_accounts, history
):
    newest = await send_usdt(devnet, devnet_http, devnet_accounts[0], devnet_accounts[1].address, 9)

    _, confirmed = await get(devnet, devnet_http, devnet_accounts[1].address, only_confirmed="true")
    _, unconfirmed = await get(devnet, devnet_http, devnet_accounts[1].address, only_unconfirmed="true")

    assert [e["transaction_id"] for e in confirmed["data"]] == list(reversed(history))
    assert [e["transaction_id"] for e in unconfirmed["data"]] == [newest]


async def test_the_contract_address_filter_keeps_only_that_token(devnet, devnet_http, devnet_accounts, history):
    other_token = devnet_accounts[2].address

    _, usdt = await get(devnet, devnet_http, devnet_accounts[1].address, contract_address=devnet.usdt_address)
    _, other = await get(devnet, devnet_http, devnet_accounts[1].address, contract_address=other_token)

    assert len(usdt["data"]) == 5
    assert other["data"] == []


async def test_approvals_are_listed_as_approval_entries(devnet, devnet_http, devnet_accounts):
    owner, spender = devnet_accounts[0], devnet_accounts[2]
    await call_contract(devnet, devnet_http, owner, devnet.usdt_address,
                        encode_call("approve(address,uint256)", spender.address, 42))

    _, page = await get(devnet, devnet_http, spender.address)

    assert [(e["type"], e["from"], e["to"], e["value"]) for e in page["data"]] == [
        ("Approval", owner.address, spender.address, "42")
    ]


async def test_only_to_and_only_from_filter_the_direction(devnet, devnet_http, devnet_accounts, history):
    _, incoming = await get(devnet, devnet_http, devnet_accounts[0].address, only_to="true")
    _, outgoing = await get(devnet, devnet_http, devnet_accounts[0].address, only_from="true")

    assert (len(incoming["data"]), len(outgoing["data"])) == (0, 5)


@pytest.mark.parametrize("params", [{"limit": "201"}, {"limit": "0"}, {"fingerprint": "not-a-fingerprint"},
                                    {"only_confirmed": "true", "only_unconfirmed": "true"}])
async def test_bad_query_parameters_are_a_400_with_trongrids_error_shape(devnet, devnet_http, devnet_accounts, params):
    status, body = await get(devnet, devnet_http, devnet_accounts[0].address, **params)

    assert status == 400
    assert body["success"] is False and body["statusCode"] == 400 and body["error"]


async def test_an_invalid_address_is_a_400(devnet, devnet_http):
    status, body = await get(devnet, devnet_http, "Tnotanaddress")

    assert (status, body["success"]) == (400, False)


async def test_a_reorged_transfer_leaves_the_history(devnet, devnet_http, devnet_accounts):
    txid = await send_usdt(devnet, devnet_http, devnet_accounts[0], devnet_accounts[1].address, 3)
    _, before = await get(devnet, devnet_http, devnet_accounts[1].address)

    devnet.reorg(1)
    _, after = await get(devnet, devnet_http, devnet_accounts[1].address)

    assert [e["transaction_id"] for e in before["data"]] == [txid]
    assert after["data"] == []


@pytest.mark.parametrize(("snake", "camel"), [
    ({"only_confirmed": "true"}, {"onlyConfirmed": "true"}),
    ({"only_unconfirmed": "true"}, {"onlyUnconfirmed": "true"}),
    ({"only_to": "true"}, {"onlyTo": "true"}),
    ({"only_from": "true", "limit": "2"}, {"onlyFrom": "true", "limit": "2"}),
    ({"order_by": "block_timestamp,asc"}, {"orderBy": "block_timestamp,asc"}),
    ({"order_by": "block_timestamp,asc"}, {"orderBy": "blockTimestamp,asc"}),
    ({"min_timestamp": "MIN", "max_timestamp": "MAX"}, {"minTimestamp": "MIN", "maxTimestamp": "MAX"}),
    ({"contract_address": "LOOKALIKE"}, {"contractAddress": "LOOKALIKE"}),
])
async def test_camel_case_parameters_mean_what_their_snake_case_twins_mean(
    devnet, devnet_http, devnet_accounts, history, snake, camel
):
    newest = await send_usdt(devnet, devnet_http, devnet_accounts[1], devnet_accounts[0].address, 9)
    times = {"MIN": str(devnet.chain.blocks[2].timestamp), "MAX": str(devnet.chain.blocks[4].timestamp),
             "LOOKALIKE": devnet.lookalike_address}

    def filled(params: dict) -> dict:
        return {key: times.get(value, value) for key, value in params.items()}

    _, by_snake = await get(devnet, devnet_http, devnet_accounts[0].address, **filled(snake))
    _, by_camel = await get(devnet, devnet_http, devnet_accounts[0].address, **filled(camel))
    _, unfiltered = await get(devnet, devnet_http, devnet_accounts[0].address)

    assert by_camel["data"] == by_snake["data"] != unfiltered["data"]
    assert [e["transaction_id"] for e in unfiltered["data"]] == [newest, *reversed(history)]


async def test_a_parameter_given_in_both_cases_with_different_values_is_a_400(devnet, devnet_http, devnet_accounts):
    status, body = await get(devnet, devnet_http, devnet_accounts[0].address, only_to="true", onlyTo="false")

    assert (status, body["success"]) == (400, False)


async def test_addresses_may_be_0x_prefixed_41_hex_or_base58(devnet, devnet_http, devnet_accounts, history):
    account = devnet_accounts[1].address
    as_hex = "0x" + decode_address(account).hex()
    usdt_hex = "0x" + decode_address(devnet.usdt_address).hex()

    _, by_base58 = await get(devnet, devnet_http, account, contract_address=devnet.usdt_address)
    _, by_0x = await get(devnet, devnet_http, as_hex, contractAddress=usdt_hex)
    _, by_41 = await get(devnet, devnet_http, as_hex[2:])

    assert by_base58["data"] == by_0x["data"] == by_41["data"]
    assert len(by_base58["data"]) == 5


async def test_lookalike_token_transfers_are_listed_under_the_lookalikes_own_address(
    devnet, devnet_http, devnet_accounts
):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    devnet.fund(sender.address, lookalike_units=50)
    await call_contract(devnet, devnet_http, sender, devnet.lookalike_address,
                        encode_call("transfer(address,uint256)", receiver.address, 50))

    _, everything = await get(devnet, devnet_http, receiver.address)
    _, usdt_only = await get(devnet, devnet_http, receiver.address, contract_address=devnet.usdt_address)

    [entry] = everything["data"]
    assert entry["token_info"] == {"symbol": "USDT", "address": devnet.lookalike_address, "decimals": 6,
                                   "name": "Tether USD"}
    assert usdt_only["data"] == []

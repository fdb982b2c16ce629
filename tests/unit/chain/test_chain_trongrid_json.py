"""TronGrid's JSON shape of a transaction: written the way TronGrid prints it, read trusting raw_data_hex, and
read from the JSON view alone the way a node reads what tronpy broadcasts."""

import pytest
from chain_strategies import contracts_with_intent, transaction_fields
from hypothesis import given

from lucid_tron.chain import (
    MalformedTransaction,
    PrivateKey,
    TxidMismatch,
    build_transaction,
    delegate_resource,
    freeze_balance_v2,
    make_block_id,
    protocol,
    raw_data_from_json,
    sign_transaction,
    transaction_from_json,
    transaction_to_json,
    transfer_contract,
    trc20_transfer,
    txid,
)

OWNER = "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC"
OWNER_HEX = "417e5f4552091a69125d5dfcb7b8c2659029395bdf"
USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
USDT_HEX = "41a614f803b6fd780986a42c78ec9c7f77e6ded13c"
BLOCK_NUMBER = 0x3039
BLOCK_ID = make_block_id(BLOCK_NUMBER, bytes(range(32)))
KEY = PrivateKey((1).to_bytes(32, "big"))


def tx_of(contract, **fields):
    return build_transaction(
        contract,
        ref_block_number=BLOCK_NUMBER,
        ref_block_id=BLOCK_ID,
        timestamp_ms=1_700_000_000_000,
        expiration_ms=1_700_000_060_000,
        **fields,
    )


def test_trx_transfer_json_has_trongrids_shape():
    tx = tx_of(transfer_contract(OWNER, USDT, 1_500_000))
    assert transaction_to_json(tx) == {
        "visible": False,
        "txID": txid(tx).hex(),
        "raw_data": {
            "contract": [
                {
                    "parameter": {
                        "value": {"owner_address": OWNER_HEX, "to_address": USDT_HEX, "amount": 1_500_000},
                        "type_url": "type.googleapis.com/protocol.TransferContract",
                    },
                    "type": "TransferContract",
                }
            ],
            "ref_block_bytes": "3039",
            "ref_block_hash": BLOCK_ID[8:16].hex(),
            "expiration": 1_700_000_060_000,
            "timestamp": 1_700_000_000_000,
        },
        "raw_data_hex": tx.raw_data.SerializeToString().hex(),
        "signature": [],
    }


def test_trc20_transfer_json_carries_call_data_and_fee_limit():
    view = transaction_to_json(tx_of(trc20_transfer(OWNER, USDT, OWNER, 5), fee_limit_sun=30_000_000))["raw_data"]
    value = view["contract"][0]["parameter"]["value"]
    assert view["fee_limit"] == 30_000_000
    assert value["contract_address"] == USDT_HEX
    assert value["data"].startswith("a9059cbb")
    assert "call_value" not in value  # TRON's JsonFormat leaves default values out


def test_resource_is_printed_by_name():
    value = transaction_to_json(tx_of(delegate_resource(OWNER, USDT, 1_000_000, "ENERGY", lock=True)))["raw_data"][
        "contract"
    ][0]["parameter"]["value"]
    assert value == {
        "owner_address": OWNER_HEX,
        "resource": "ENERGY",
        "balance": 1_000_000,
        "receiver_address": USDT_HEX,
        "lock": True,
    }


def test_bandwidth_being_resource_zero_is_left_out_like_trongrid_does():
    value = transaction_to_json(tx_of(freeze_balance_v2(OWNER, 1_000_000, "BANDWIDTH")))["raw_data"]["contract"][0][
        "parameter"
    ]["value"]
    assert "resource" not in value


def test_visible_json_shows_base58_addresses():
    value = transaction_to_json(tx_of(transfer_contract(OWNER, USDT, 1)), visible=True)["raw_data"]["contract"][0][
        "parameter"
    ]["value"]
    assert (value["owner_address"], value["to_address"]) == (OWNER, USDT)


def test_memo_is_printed_as_hex_data():
    assert transaction_to_json(tx_of(transfer_contract(OWNER, USDT, 1), memo=b"hi"))["raw_data"]["data"] == "6869"


def test_signatures_are_printed_as_hex():
    signed = sign_transaction(tx_of(transfer_contract(OWNER, USDT, 1)), KEY)
    assert transaction_to_json(signed)["signature"] == [signed.signature[0].hex()]


def test_signed_transaction_round_trips_through_json():
    signed = sign_transaction(tx_of(transfer_contract(OWNER, USDT, 1)), KEY)
    assert transaction_from_json(transaction_to_json(signed)) == signed


def test_raw_data_hex_is_trusted_over_the_json_view():
    real = tx_of(transfer_contract(OWNER, USDT, 1))
    shown = transaction_to_json(tx_of(transfer_contract(OWNER, USDT, 999)))
    shown["raw_data_hex"] = real.raw_data.SerializeToString().hex()
    shown["txID"] = txid(real).hex()
    assert transaction_from_json(shown) == real


def test_txid_that_is_not_sha256_of_raw_data_hex_is_a_mismatch():
    view = transaction_to_json(tx_of(transfer_contract(OWNER, USDT, 1)))
    view["txID"] = "00" * 32
    with pytest.raises(TxidMismatch):
        transaction_from_json(view)


def test_txid_that_is_not_sha256_of_the_json_view_is_a_mismatch():
    view = transaction_to_json(tx_of(transfer_contract(OWNER, USDT, 1)))
    del view["raw_data_hex"]
    view["raw_data"]["contract"][0]["parameter"]["value"]["amount"] = 2
    with pytest.raises(TxidMismatch):
        transaction_from_json(view)


def test_json_view_alone_as_tronpy_broadcasts_it_is_read():
    # tronpy sends {txID, raw_data, signature, permission}: no raw_data_hex, explicit zero defaults.
    tx = sign_transaction(tx_of(trc20_transfer(OWNER, USDT, OWNER, 5), fee_limit_sun=10_000_000), KEY)
    view = transaction_to_json(tx)
    tronpy_style = {
        "txID": view["txID"],
        "raw_data": view["raw_data"],
        "signature": view["signature"],
        "permission": None,
    }
    tronpy_style["raw_data"]["contract"][0]["parameter"]["value"].update(call_value=0, call_token_value=0, token_id=0)
    assert transaction_from_json(tronpy_style) == tx


def test_json_view_accepts_base58_addresses():
    view = transaction_to_json(tx_of(transfer_contract(OWNER, USDT, 1)), visible=True)
    del view["raw_data_hex"]
    assert transaction_from_json(view) == tx_of(transfer_contract(OWNER, USDT, 1))


def test_json_view_with_an_unknown_field_is_refused():
    view = transaction_to_json(tx_of(transfer_contract(OWNER, USDT, 1)))["raw_data"]
    view["contract"][0]["parameter"]["value"]["asset_name"] = "31303030303031"
    with pytest.raises(MalformedTransaction, match="asset_name"):
        raw_data_from_json(view)


def test_json_view_with_a_bad_address_is_refused():
    view = transaction_to_json(tx_of(transfer_contract(OWNER, USDT, 1)))["raw_data"]
    view["contract"][0]["parameter"]["value"]["to_address"] = "0x" + USDT_HEX[2:]
    with pytest.raises(MalformedTransaction, match="to_address"):
        raw_data_from_json(view)


def test_json_view_with_a_type_url_of_another_type_is_refused():
    view = transaction_to_json(tx_of(transfer_contract(OWNER, USDT, 1)))["raw_data"]
    view["contract"][0]["parameter"]["type_url"] = "type.googleapis.com/protocol.TriggerSmartContract"
    with pytest.raises(MalformedTransaction, match="type_url"):
        raw_data_from_json(view)


def test_json_view_with_a_float_amount_is_refused():
    view = transaction_to_json(tx_of(transfer_contract(OWNER, USDT, 1)))["raw_data"]
    view["contract"][0]["parameter"]["value"]["amount"] = 1.0
    with pytest.raises(MalformedTransaction, match="integer"):
        raw_data_from_json(view)


def test_non_canonical_raw_data_hex_is_refused():
    view = transaction_to_json(tx_of(transfer_contract(OWNER, USDT, 1)))
    view["raw_data_hex"] += "408100"  # expiration again, as an overlong varint
    del view["txID"]
    with pytest.raises(MalformedTransaction) as caught:
        transaction_from_json(view)
    assert caught.value.reason == "NON_CANONICAL"


def test_raw_data_hex_that_is_not_hex_is_refused():
    with pytest.raises(MalformedTransaction):
        transaction_from_json({"raw_data_hex": "zz"})


def test_result_of_a_node_round_trips():
    tx = tx_of(transfer_contract(OWNER, USDT, 1))
    tx.ret.add(contractRet=protocol.Transaction.Result.SUCCESS, fee=1_100_000)
    view = transaction_to_json(tx)
    assert view["ret"] == [{"fee": 1_100_000, "contractRet": "SUCCESS"}]
    assert transaction_from_json(view) == tx


@given(contracts_with_intent, transaction_fields())
def test_every_contract_type_round_trips_through_the_json_view_alone(contract_and_intent, fields):
    contract, _ = contract_and_intent
    tx = build_transaction(contract, **fields)
    view = transaction_to_json(tx)
    del view["raw_data_hex"]
    assert transaction_from_json(view) == tx

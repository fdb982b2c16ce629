"""POST /wallet/broadcasttransaction and /wallet/broadcasthex check a transaction as java-tron does."""

from __future__ import annotations

import hashlib
import time

from fixtures.transactions import signed_json

from lucid_tron.chain import (
    PrivateKey,
    build_transaction,
    protocol,
    sign_transaction,
    transaction_from_json,
    transaction_to_json,
    transfer_contract,
)


def message(answer: dict) -> str:
    return bytes.fromhex(answer["message"]).decode()


def txid_of(tx_json: dict) -> str:
    return hashlib.sha256(bytes.fromhex(tx_json["raw_data_hex"])).hexdigest()


async def test_an_accepted_transaction_answers_result_true_and_the_locally_computed_txid(
    devnet, devnet_http, devnet_accounts
):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000))

    answer = await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)

    assert answer == {"result": True, "txid": txid_of(tx)}


async def test_a_transaction_is_included_in_the_next_block(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000))
    await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)
    assert await devnet_http.post(devnet, "/wallet/gettransactioninfobyid", {"value": tx["txID"]}) == {}

    block = devnet.produce_block()

    assert block.txids == (tx["txID"],)
    info = await devnet_http.post(devnet, "/wallet/gettransactioninfobyid", {"value": tx["txID"]})
    assert info["blockNumber"] == block.number
    included = await devnet_http.post(devnet, "/wallet/gettransactionbyid", {"value": tx["txID"]})
    assert included["ret"] == [{"contractRet": "SUCCESS"}]
    assert included["signature"] == tx["signature"]


async def test_a_signature_by_another_key_is_a_sigerror(devnet, devnet_http, devnet_accounts):
    sender, other = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, other.key, transfer_contract(sender.address, other.address, 1_000_000))

    answer = await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)

    assert answer["code"] == "SIGERROR"
    assert answer["txid"] == txid_of(tx)
    assert message(answer) == (
        f"validate signature error {tx['signature'][0]} is signed by {other.address} "
        "but it is not contained of permission."
    )


async def test_a_transaction_without_signature_is_a_sigerror(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000))
    tx["signature"] = []

    answer = await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)

    assert (answer["code"], message(answer)) == ("SIGERROR", "validate signature error miss sig or contract")


async def test_a_txid_that_is_not_the_hash_of_raw_data_is_a_sigerror(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000))
    del tx["raw_data_hex"]
    tx["raw_data"]["contract"][0]["parameter"]["value"]["amount"] = 2_000_000  # the txID no longer matches

    answer = await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)

    assert answer["code"] == "SIGERROR"
    assert "is not sha256(raw_data)" in message(answer)


async def test_a_rebroadcast_of_a_known_transaction_is_dup_transaction(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000))
    await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)

    pending_again = await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)
    devnet.produce_block()
    included_again = await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)

    assert pending_again == {"code": "DUP_TRANSACTION_ERROR", "txid": tx["txID"]}
    assert included_again == {"code": "DUP_TRANSACTION_ERROR", "txid": tx["txID"]}
    assert devnet.trx_balance(receiver.address) == 10_001_000_000  # credited once


async def test_an_expired_transaction_is_refused(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    past = int(time.time() * 1000) - 1_000
    tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000), expiration_ms=past)

    answer = await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)

    assert (answer["code"], message(answer)) == ("TRANSACTION_EXPIRATION_ERROR", "transaction expired")


async def test_an_expiration_more_than_24_hours_ahead_is_refused(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    far = int(time.time() * 1000) + 24 * 3600 * 1000 + 60_000
    tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000), expiration_ms=far)

    answer = await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)

    assert answer["code"] == "TRANSACTION_EXPIRATION_ERROR"


async def test_a_reference_block_not_on_this_chain_is_a_tapos_error(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    now = int(time.time() * 1000)
    foreign_block = bytes(8) + bytes.fromhex("ab" * 24)  # block 0 of some other chain
    tx = build_transaction(
        transfer_contract(sender.address, receiver.address, 1_000_000),
        ref_block_number=0,
        ref_block_id=foreign_block,
        expiration_ms=now + 60_000,
        timestamp_ms=now,
    )

    answer = await devnet_http.post(
        devnet, "/wallet/broadcasttransaction", transaction_to_json(sign_transaction(tx, sender.key))
    )

    assert (answer["code"], message(answer)) == ("TAPOS_ERROR", "Tapos check error")


async def test_a_transfer_above_the_balance_is_a_contract_validate_error(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 10_000_000_001))

    answer = await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)

    assert answer["code"] == "CONTRACT_VALIDATE_ERROR"
    assert message(answer) == "contract validate error : Validate TransferContract error, balance is not sufficient."


async def test_pending_transactions_count_against_the_balance(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    first = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 6_000_000_000))
    second = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 5_000_000_000))

    assert (await devnet_http.post(devnet, "/wallet/broadcasttransaction", first))["result"] is True
    answer = await devnet_http.post(devnet, "/wallet/broadcasttransaction", second)

    assert answer["code"] == "CONTRACT_VALIDATE_ERROR"


async def test_an_account_without_trx_cannot_pay_bandwidth_beyond_the_free_allowance(
    devnet, devnet_http, devnet_accounts
):
    poor = PrivateKey(hashlib.sha256(b"poor account").digest())
    devnet.fund(poor.address, trx_sun=10)  # exists, but cannot burn TRX for bandwidth
    answers = []
    for amount in (1, 2, 3):  # each ~268 points: the third exceeds the 600 free points of the day
        tx = signed_json(devnet, poor, transfer_contract(poor.address, devnet_accounts[0].address, amount))
        answers.append(await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx))

    assert [a.get("result") for a in answers[:2]] == [True, True]
    assert answers[2]["code"] == "BANDWITH_ERROR"  # sic: java-tron's spelling


async def test_broadcasthex_accepts_the_serialized_transaction(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000))
    raw = transaction_from_json(tx).SerializeToString()

    answer = await devnet_http.post(devnet, "/wallet/broadcasthex", {"transaction": raw.hex()})

    assert (answer["result"], answer["code"], answer["txid"]) == (True, "SUCCESS", tx["txID"])


async def test_broadcasthex_of_bytes_that_are_not_a_transaction_is_an_error_body(devnet, devnet_http):
    answer = await devnet_http.post(devnet, "/wallet/broadcasthex", {"transaction": "ffff"})

    assert "Error" in answer


async def test_a_signature_over_the_wrong_digest_is_a_sigerror(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000))
    tx["signature"] = [sender.key.sign_digest(hashlib.sha256(b"something else").digest()).hex()]

    answer = await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)

    assert answer["code"] == "SIGERROR"


async def test_a_memo_burns_the_memo_fee(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000), memo=b"invoice 7")
    await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)
    devnet.produce_block()

    info = await devnet_http.post(devnet, "/wallet/gettransactioninfobyid", {"value": tx["txID"]})

    assert info["fee"] == 1_000_000
    assert protocol.Transaction.raw.FromString(bytes.fromhex(tx["raw_data_hex"])).data == b"invoice 7"


async def test_raw_data_is_read_from_its_json_view_and_a_stale_raw_data_hex_is_ignored(
    devnet, devnet_http, devnet_accounts
):
    # java-tron re-packs raw_data from JSON and never reads raw_data_hex; devnet does the same.
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000))
    edited = dict(tx, raw_data={**tx["raw_data"], "expiration": tx["raw_data"]["expiration"] + 1})
    del edited["txID"]

    answer = await devnet_http.post(devnet, "/wallet/broadcasttransaction", edited)

    assert answer["code"] == "SIGERROR"  # signed over the stale bytes, checked against the JSON view
    assert answer["txid"] != tx["txID"]

"""lucid_tron.trongrid's reads: TronGrid's JSON parsed once into typed values, and shapes it cannot use refused.

A scripted stand-in replaces TronGridClient here (the test double says so): devnet answers only well-formed JSON,
and what is tested is the parsing of answers devnet never gives (a hostile or broken node, mainnet's variations).
The same functions run against devnet in tests/integration/tron_client.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from lucid_tron.chain import (
    PrivateKey,
    TRANSFER_EVENT_TOPIC,
    build_transaction,
    encode_address,
    protocol,
    sign_transaction,
    to_hex,
    transaction_to_json,
    transfer_contract,
    trigger_smart_contract,
)
from lucid_tron import trongrid
from lucid_tron.trongrid import ExecutionResult, Finality, TronGridBadResponse, TronGridNodeError

OWNER = PrivateKey(hashlib.sha256(b"owner").digest())
TOKEN = PrivateKey(hashlib.sha256(b"token").digest()).address
TXID = "cd" * 32
BLOCK_ID = (5).to_bytes(8, "big").hex() + "ee" * 24


class ScriptedTronGrid:
    """Answers (view, name) with scripted JSON or raises a scripted error; records the calls."""

    def __init__(self, answers: dict[tuple[str, str], Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str, Any, dict[str, Any]]] = []

    async def _answer(self, view: str, name: str, body: Any, options: dict[str, Any]) -> Any:
        self.calls.append((view, name, body, options))
        answer = self.answers[(view, name)]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def wallet(self, name: str, body: Any = None, **options: Any) -> Any:
        return await self._answer("wallet", name, body, options)

    async def solidity(self, name: str, body: Any = None, **options: Any) -> Any:
        return await self._answer("walletsolidity", name, body, options)


def block_json(number: int = 5, transactions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "blockID": number.to_bytes(8, "big").hex() + "ee" * 24,
        "block_header": {
            "raw_data": {
                "number": number,
                "timestamp": 1_700_000_000_000,
                "parentHash": "aa" * 32,
                "witness_address": to_hex(OWNER.address),
            }
        },
    }
    if transactions is not None:
        out["transactions"] = transactions
    return out


def signed_transfer() -> protocol.Transaction:
    tx = build_transaction(
        transfer_contract(OWNER.address, TOKEN, 5),
        ref_block_number=5,
        ref_block_id=BLOCK_ID,
        expiration_ms=1_700_000_060_000,
        timestamp_ms=1_700_000_000_000,
    )
    return sign_transaction(tx, OWNER)


def signed_json() -> dict[str, Any]:
    return transaction_to_json(signed_transfer())


async def test_now_block_reads_the_solidified_view_when_asked():
    node = ScriptedTronGrid({("walletsolidity", "getnowblock"): block_json()})

    header = await trongrid.now_block(node, Finality.SOLIDIFIED)

    assert header.number == 5 and header.solidified and header.producer_address == OWNER.address
    assert header.block_id == BLOCK_ID and header.parent_block_id == "aa" * 32


async def test_a_block_id_that_is_not_of_its_number_is_a_bad_response():
    answer = block_json()
    answer["block_header"]["raw_data"]["number"] = 6
    with pytest.raises(TronGridBadResponse):
        await trongrid.now_block(ScriptedTronGrid({("wallet", "getnowblock"): answer}), Finality.HEAD)


async def test_block_txids_are_recomputed_from_raw_data():
    tx = signed_json()
    node = ScriptedTronGrid({("walletsolidity", "getblockbynum"): block_json(transactions=[tx])})

    found = await trongrid.block(node, 5)

    assert found is not None and found.txids == (tx["txID"],) and found.header.transaction_count == 1


async def test_a_block_transaction_whose_txid_lies_is_a_bad_response():
    tx = signed_json() | {"txID": "00" * 32}
    node = ScriptedTronGrid({("walletsolidity", "getblockbynum"): block_json(transactions=[tx])})
    with pytest.raises(TronGridBadResponse):
        await trongrid.block(node, 5)


async def test_a_block_only_the_head_view_has_is_not_solidified_and_beyond_head_is_none():
    node = ScriptedTronGrid({("walletsolidity", "getblockbynum"): {}, ("wallet", "getblockbynum"): block_json()})
    found = await trongrid.block(node, 5)
    assert found is not None and not found.header.solidified

    node.answers[("wallet", "getblockbynum")] = {}
    assert await trongrid.block(node, 5) is None


async def test_an_address_tron_does_not_know_is_an_account_that_is_not_activated():
    node = ScriptedTronGrid({("walletsolidity", "getaccount"): {}})
    account = await trongrid.account(node, OWNER.address, Finality.SOLIDIFIED)
    assert (account.activated, account.balance_sun, account.create_time_ms) == (False, 0, None)


async def test_a_balance_that_is_not_an_integer_is_a_bad_response_not_a_crash():
    node = ScriptedTronGrid({("wallet", "getaccount"): {"balance": "lots", "create_time": 1}})
    with pytest.raises(TronGridBadResponse, match="getaccount.balance"):
        await trongrid.account(node, OWNER.address, Finality.HEAD)


async def test_an_answer_that_is_not_an_object_is_a_bad_response():
    with pytest.raises(TronGridBadResponse):
        await trongrid.account(ScriptedTronGrid({("wallet", "getaccount"): [1, 2]}), OWNER.address, Finality.HEAD)


async def test_staked_amounts_include_what_is_delegated_out():
    node = ScriptedTronGrid(
        {
            ("wallet", "getaccountresource"): {"freeNetLimit": 600, "EnergyLimit": 10, "TotalEnergyWeight": 7},
            ("wallet", "getaccount"): {
                "balance": 1,
                "frozenV2": [{"amount": 3_000_000}, {"type": "ENERGY", "amount": 5_000_000}, {"type": "TRON_POWER"}],
                "delegated_frozenV2_balance_for_bandwidth": 1_000_000,
                "acquired_delegated_frozenV2_balance_for_bandwidth": 4_000_000,
                "account_resource": {
                    "delegated_frozenV2_balance_for_energy": 2_000_000,
                    "acquired_delegated_frozenV2_balance_for_energy": 6_000_000,
                },
            },
        }
    )

    resources = await trongrid.account_resources(node, OWNER.address)

    assert (resources.staked_for_bandwidth_sun, resources.staked_for_energy_sun) == (4_000_000, 7_000_000)
    assert (resources.delegated_bandwidth_out_sun, resources.delegated_energy_out_sun) == (1_000_000, 2_000_000)
    assert (resources.delegated_bandwidth_in_sun, resources.delegated_energy_in_sun) == (4_000_000, 6_000_000)
    assert (resources.free_bandwidth_limit, resources.energy_limit, resources.total_energy_weight) == (600, 10, 7)


def receipt_json(**overrides: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "id": TXID,
        "fee": 6_428_500,
        "blockNumber": 9,
        "blockTimeStamp": 1_700_000_000_000,
        "contract_address": to_hex(TOKEN),
        "receipt": {
            "energy_usage": 10_000,
            "origin_energy_usage": 285,
            "energy_fee": 5_400_000,
            "energy_usage_total": 64_285,
            "net_usage": 345,
            "result": "SUCCESS",
        },
        "log": [
            {
                "address": to_hex(TOKEN)[2:],  # the TVM's bare 20 bytes
                "topics": [
                    TRANSFER_EVENT_TOPIC.hex(), encode_address(OWNER.address).hex(), encode_address(TOKEN).hex()
                ],
                "data": (7).to_bytes(32, "big").hex(),
            }
        ],
    }
    answer.update(overrides)
    return answer


async def head_receipt(answer: dict[str, Any]) -> trongrid.Receipt | None:
    node = ScriptedTronGrid({("wallet", "gettransactioninfobyid"): answer})
    return await trongrid.transaction_info(node, TXID, Finality.HEAD)


def stake_node(account: Any, index: Any, delegated: Any = None) -> ScriptedTronGrid:
    return ScriptedTronGrid({
        ("wallet", "getaccount"): account,
        ("wallet", "getdelegatedresourceaccountindexv2"): index,
        ("wallet", "getcandelegatedmaxsize"): {"max_size": 9_000_000},
        ("wallet", "getcanwithdrawunfreezeamount"): {},
        ("wallet", "getdelegatedresourcev2"): delegated or {},
    })


async def test_stake_reads_unstakes_oldest_first_and_each_resource_of_a_delegation():
    node = stake_node(
        {"unfrozenV2": [{"type": "ENERGY", "unfreeze_amount": 2, "unfreeze_expire_time": 20},
                        {"unfreeze_amount": 1, "unfreeze_expire_time": 10}]},
        {"account": OWNER.address, "toAccounts": [to_hex(TOKEN)]},
        {"delegatedResource": [{"from": OWNER.address, "to": TOKEN, "frozen_balance_for_bandwidth": 3,
                                "frozen_balance_for_energy": 4, "expire_time_for_energy": 99}]},
    )

    stake = await trongrid.stake(node, OWNER.address)

    assert [(u.resource, u.amount_sun, u.withdrawable_ms) for u in stake.unfreezes] == [
        ("BANDWIDTH", 1, 10), ("ENERGY", 2, 20)
    ]
    assert [(d.receiver, d.resource, d.amount_sun, d.lock_expire_ms) for d in stake.delegations] == [
        (TOKEN, "BANDWIDTH", 3, 0), (TOKEN, "ENERGY", 4, 99)
    ]
    assert (stake.delegatable_energy_sun, stake.withdrawable_sun) == (9_000_000, 0)


async def test_a_delegation_receiver_that_is_not_an_address_is_a_bad_response():
    node = stake_node({}, {"toAccounts": [42]})

    with pytest.raises(TronGridBadResponse):
        await trongrid.stake(node, OWNER.address)


async def test_a_receipt_is_read_with_its_logs_and_the_energy_paid_by_burning():
    node = ScriptedTronGrid({("walletsolidity", "gettransactioninfobyid"): receipt_json()})

    receipt = await trongrid.transaction_info(node, TXID, Finality.SOLIDIFIED)

    assert receipt is not None and receipt.solidified and receipt.result is ExecutionResult.SUCCESS
    assert (receipt.energy_used, receipt.energy_burned, receipt.energy_fee_sun) == (64_285, 54_000, 5_400_000)
    assert receipt.contract_address == TOKEN
    (log,) = receipt.logs
    assert (log.index, log.contract_address, log.topics[0], log.data[-1]) == (0, TOKEN, TRANSFER_EVENT_TOPIC, 7)


@pytest.mark.parametrize(
    ("receipt", "top_level", "expected"),
    [
        ({}, {}, ExecutionResult.SUCCESS),  # a native transfer has no receipt.result
        ({}, {"result": "FAILED"}, ExecutionResult.FAILED),
        ({"result": "REVERT"}, {"result": "FAILED"}, ExecutionResult.REVERTED),
        ({"result": "OUT_OF_ENERGY"}, {"result": "FAILED"}, ExecutionResult.OUT_OF_ENERGY),
        ({"result": "OUT_OF_TIME"}, {"result": "FAILED"}, ExecutionResult.FAILED),
    ],
)
async def test_the_execution_result_follows_tron_codes(receipt, top_level, expected):
    answer = receipt_json(receipt=receipt, **top_level)
    found = await head_receipt(answer)
    assert found is not None and found.result is expected and found.result_code == receipt.get("result", "")


async def test_a_failure_message_is_decoded_from_hex():
    answer = receipt_json(receipt={"result": "REVERT"}, result="FAILED", resMessage=b"REVERT opcode executed".hex())
    found = await head_receipt(answer)
    assert found is not None and found.result_message == "REVERT opcode executed"


async def test_no_receipt_is_none_not_an_error():
    node = ScriptedTronGrid({("walletsolidity", "gettransactioninfobyid"): {}})
    assert await trongrid.transaction_info(node, TXID, Finality.SOLIDIFIED) is None


async def test_the_receipt_of_another_transaction_is_a_bad_response():
    node = ScriptedTronGrid({("walletsolidity", "gettransactioninfobyid"): receipt_json(id="ef" * 32)})
    with pytest.raises(TronGridBadResponse):
        await trongrid.transaction_info(node, TXID, Finality.SOLIDIFIED)


async def test_a_log_topic_that_is_not_a_word_is_a_bad_response():
    answer = receipt_json(log=[{"address": to_hex(TOKEN)[2:], "topics": ["abc"]}])
    with pytest.raises(TronGridBadResponse):
        await head_receipt(answer)


async def test_a_transaction_is_read_from_its_bytes_with_the_txid_checked():
    tx = signed_json()
    node = ScriptedTronGrid({("walletsolidity", "gettransactionbyid"): tx | {"ret": [{"contractRet": "SUCCESS"}]}})

    found = await trongrid.transaction(node, tx["txID"], Finality.SOLIDIFIED)

    assert found is not None
    assert (found.contract_type, found.contract_result) == ("TransferContract", "SUCCESS")
    assert found.owner_address == OWNER.address
    assert hashlib.sha256(found.raw_data).hexdigest() == tx["txID"] == found.txid
    assert found.expiration_ms == 1_700_000_060_000


async def test_a_transaction_of_a_type_lucid_tron_does_not_build_is_still_described():
    vote = protocol.Transaction.Contract.ContractType.Value("VoteWitnessContract")
    contract = protocol.Transaction.Contract(type=vote)
    contract.parameter.type_url = "type.googleapis.com/protocol.VoteWitnessContract"
    contract.parameter.value = b"\x0a\x15" + bytes.fromhex(to_hex(OWNER.address))  # field 1: owner_address
    raw = protocol.Transaction.raw(ref_block_bytes=b"\x00\x05", ref_block_hash=b"\x01" * 8, expiration=1, timestamp=0)
    raw.contract.append(contract)
    raw_bytes = raw.SerializeToString(deterministic=True)
    txid = hashlib.sha256(raw_bytes).hexdigest()
    answer = {"txID": txid, "raw_data_hex": raw_bytes.hex(), "signature": []}

    found = await trongrid.transaction(ScriptedTronGrid({("wallet", "gettransactionbyid"): answer}), txid, Finality.HEAD)

    assert found is not None and (found.contract_type, found.owner_address, found.contract_result) == (
        "VoteWitnessContract", OWNER.address, ""
    )


async def test_a_transaction_answer_for_another_txid_is_a_bad_response():
    node = ScriptedTronGrid({("wallet", "gettransactionbyid"): signed_json()})
    with pytest.raises(TronGridBadResponse):
        await trongrid.transaction(node, TXID, Finality.HEAD)


async def test_chain_parameters_without_a_value_are_zero_and_fees_are_summed():
    answer = {
        "chainParameter": [
            {"key": "getEnergyFee", "value": 100},
            {"key": "getCreateAccountFee", "value": 100_000},
            {"key": "getCreateNewAccountFeeInSystemContract", "value": 1_000_000},
            {"key": "getUnfreezeDelayDays"},
        ]
    }
    found = await trongrid.chain_parameters(ScriptedTronGrid({("wallet", "getchainparameters"): answer}))
    assert (found.energy_price_sun, found.create_account_fee_sun, found.unfreeze_delay_days) == (100, 1_100_000, 0)
    assert found.parameters[-1] == ("getUnfreezeDelayDays", 0)


async def test_a_broadcast_the_node_already_has_is_a_duplicate_success():
    tx = signed_transfer()
    node = ScriptedTronGrid({("wallet", "broadcasthex"): TronGridNodeError("DUP_TRANSACTION_ERROR", "dup")})

    sent = await trongrid.broadcast(node, tx.SerializeToString())

    assert sent.duplicate and sent.txid == hashlib.sha256(tx.raw_data.SerializeToString()).hexdigest()
    (_, _, body, options) = node.calls[0]
    assert body == {"transaction": tx.SerializeToString().hex()}
    assert options == {"purpose": "broadcast", "retry": True}


async def test_a_broadcast_refused_for_another_reason_raises_the_node_error():
    tx = signed_transfer()
    refusal = TronGridNodeError("TAPOS_ERROR", "Tapos check error")
    node = ScriptedTronGrid({("wallet", "broadcasthex"): refusal})
    with pytest.raises(TronGridNodeError) as raised:
        await trongrid.broadcast(node, tx.SerializeToString())
    assert raised.value.code == "TAPOS_ERROR"


async def test_a_broadcast_answer_without_result_true_is_a_bad_response():
    tx = signed_transfer()
    with pytest.raises(TronGridBadResponse):
        await trongrid.broadcast(ScriptedTronGrid({("wallet", "broadcasthex"): {"result": False}}), tx.SerializeToString())


async def test_an_estimate_without_energy_required_is_a_bad_response():
    node = ScriptedTronGrid({("wallet", "estimateenergy"): {"result": {"result": True}}})
    with pytest.raises(TronGridBadResponse):
        await trongrid.estimate_energy(
            node, owner_address=OWNER.address, contract_address=TOKEN, function_selector="f()", parameter=b"",
            call_value_sun=0,
        )  # fmt: skip


async def test_block_receipts_reads_the_trx_transfers_of_the_block_in_the_view():
    tx = signed_json()
    node = ScriptedTronGrid({
        ("walletsolidity", "getblockbynum"): block_json(transactions=[tx]),
        ("walletsolidity", "gettransactioninfobyblocknum"): [],
    })  # fmt: skip

    found = await trongrid.block_receipts(node, 5, Finality.SOLIDIFIED)

    assert found is not None and found.block.header.solidified and found.receipts == ()
    [native] = found.native_transfers
    assert (native.txid, native.from_address, native.to_address, native.amount_sun) == (
        tx["txID"], OWNER.address, TOKEN, 5
    )


async def test_block_receipts_of_a_block_the_view_lacks_are_none():
    node = ScriptedTronGrid({("wallet", "getblockbynum"): {}, ("wallet", "gettransactioninfobyblocknum"): []})

    assert await trongrid.block_receipts(node, 5, Finality.HEAD) is None


async def test_a_block_whose_contract_call_has_no_receipt_is_not_held_yet():
    # getblockbynum answered by a node holding the block, gettransactioninfobyblocknum by one that does not.
    call = transaction_to_json(sign_transaction(build_transaction(
        trigger_smart_contract(OWNER.address, TOKEN, b"\xa9\x05\x9c\xbb"), ref_block_number=5, ref_block_id=BLOCK_ID,
        expiration_ms=1_700_000_060_000, timestamp_ms=1_700_000_000_000, fee_limit_sun=1_000_000,
    ), OWNER))  # fmt: skip
    node = ScriptedTronGrid({
        ("wallet", "getblockbynum"): block_json(transactions=[call]),
        ("wallet", "gettransactioninfobyblocknum"): [],
    })  # fmt: skip

    assert await trongrid.block_receipts(node, 5, Finality.HEAD) is None


async def test_a_receipt_of_another_block_among_a_blocks_receipts_is_a_bad_response():
    other = {"id": TXID, "blockNumber": 6, "blockTimeStamp": 1, "receipt": {}}
    node = ScriptedTronGrid({
        ("wallet", "getblockbynum"): block_json(transactions=[]),
        ("wallet", "gettransactioninfobyblocknum"): [other],
    })  # fmt: skip

    with pytest.raises(TronGridBadResponse):
        await trongrid.block_receipts(node, 5, Finality.HEAD)

"""Which transfers of a block GetBlockTransfers lists, and in what order (transfers_in over parsed blocks)."""

from __future__ import annotations

import hashlib

from lucid_tron.chain import TRANSFER_EVENT_TOPIC, PrivateKey, encode_address, encode_uint256
from lucid_tron.services.tron_relay.transfers import TRX_LOG_INDEX, transfers_in
from lucid_tron.trongrid import Block, BlockHeader, BlockReceipts, ExecutionResult, Log, NativeTransfer, Receipt


def address(name: str) -> str:
    return PrivateKey(hashlib.sha256(name.encode()).digest()).address


USDT, FAKE_USDT = address("usdt"), address("fake-usdt")
PAYER, MERCHANT = address("payer"), address("merchant")
TRX_TX, TOKEN_TX, FAILED_TX = "01" * 32, "02" * 32, "03" * 32


def transfer_log(index: int, contract: str, amount: int) -> Log:
    topics = (TRANSFER_EVENT_TOPIC, encode_address(PAYER), encode_address(MERCHANT))
    return Log(index=index, contract_address=contract, topics=topics, data=encode_uint256(amount))


def receipt(txid: str, *logs: Log, result: ExecutionResult = ExecutionResult.SUCCESS) -> Receipt:
    return Receipt(
        txid=txid, block_number=9, block_time_ms=1_700_000_000_000, result=result, result_code="", result_message="",
        fee_sun=0, energy_used=0, energy_burned=0, energy_fee_sun=0, bandwidth_used=0, bandwidth_fee_sun=0,
        contract_address="", logs=logs, solidified=True,
    )  # fmt: skip


def block(*receipts: Receipt, natives: tuple[NativeTransfer, ...] = ()) -> BlockReceipts:
    header = BlockHeader(
        number=9, block_id="00" * 32, parent_block_id="00" * 32, block_time_ms=1_700_000_000_000,
        producer_address=PAYER, transaction_count=3, solidified=True,
    )  # fmt: skip
    txids = (TOKEN_TX, TRX_TX, FAILED_TX)  # block order: the token transfer first
    return BlockReceipts(block=Block(header=header, txids=txids), native_transfers=natives, receipts=receipts)


TRX = NativeTransfer(txid=TRX_TX, from_address=PAYER, to_address=MERCHANT, amount_sun=7, contract_result="SUCCESS")
TOKENS = receipt(TOKEN_TX, transfer_log(0, FAKE_USDT, 1), transfer_log(1, USDT, 5))


def test_only_the_named_contracts_transfers_are_listed_in_block_then_log_order():
    listed = transfers_in(block(TOKENS, receipt(TRX_TX), natives=(TRX,)), {USDT}, include_trx=True)

    assert [(t.txid, t.log_index, t.contract_address, t.amount_base_units) for t in listed] == [
        (TOKEN_TX, 1, USDT, 5), (TRX_TX, TRX_LOG_INDEX, "", 7),
    ]
    assert all(t.solidified and t.block_number == 9 for t in listed)


def test_trx_transfers_are_left_out_unless_asked_for():
    listed = transfers_in(block(TOKENS, natives=(TRX,)), {USDT}, include_trx=False)

    assert [t.txid for t in listed] == [TOKEN_TX]


def test_a_failed_execution_is_listed_with_its_result():
    failed = receipt(FAILED_TX, transfer_log(0, USDT, 3), result=ExecutionResult.REVERTED)

    [listed] = transfers_in(block(failed), {USDT}, include_trx=False)

    assert listed.result is ExecutionResult.REVERTED

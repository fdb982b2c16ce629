"""VerifyTrc20Transfer's rules: the checks in order, the first failure reported, Transfer events decoded."""

from __future__ import annotations

import hashlib

import pytest

from lucid_tron.chain import TRANSFER_EVENT_TOPIC, PrivateKey, encode_address, encode_uint256
from lucid_tron.services.tron_relay.verify import Expected, Failure, transfers_of, verify
from lucid_tron.trongrid import ExecutionResult, Log, Receipt


def address(name: str) -> str:
    return PrivateKey(hashlib.sha256(name.encode()).digest()).address


USDT, FAKE_USDT = address("usdt"), address("fake-usdt")
PAYER, MERCHANT, SOMEONE = address("payer"), address("merchant"), address("someone")
TXID = "ab" * 32
EXPECTED = Expected(contract_address=USDT, from_address=PAYER, to_address=MERCHANT, amount_base_units=5_000_000)


def transfer_log(index: int, contract: str, sender: str, recipient: str, amount: int) -> Log:
    topics = (TRANSFER_EVENT_TOPIC, encode_address(sender), encode_address(recipient))
    return Log(index=index, contract_address=contract, topics=topics, data=encode_uint256(amount))


def receipt(*logs: Log, result: ExecutionResult = ExecutionResult.SUCCESS, solidified: bool = True) -> Receipt:
    return Receipt(
        txid=TXID, block_number=77, block_time_ms=1_700_000_000_000, result=result,
        result_code="SUCCESS" if result is ExecutionResult.SUCCESS else "REVERT", result_message="",
        fee_sun=0, energy_used=0, energy_burned=0, energy_fee_sun=0, bandwidth_used=0, bandwidth_fee_sun=0,
        contract_address=USDT, logs=logs, solidified=solidified,
    )  # fmt: skip


PAYMENT = transfer_log(0, USDT, PAYER, MERCHANT, 5_000_000)


def test_the_expected_transfer_in_a_solidified_successful_receipt_verifies():
    verdict = verify(EXPECTED, receipt(PAYMENT), None)

    assert verdict.verified and verdict.failure is None and verdict.block_number == 77
    assert verdict.matched == transfers_of(receipt(PAYMENT))[0]
    assert (verdict.matched.txid, verdict.matched.log_index, verdict.matched.amount_base_units) == (TXID, 0, 5_000_000)


def test_any_sender_is_accepted_when_none_is_expected():
    anyone = Expected(contract_address=USDT, from_address=None, to_address=MERCHANT, amount_base_units=5_000_000)
    assert verify(anyone, receipt(transfer_log(0, USDT, SOMEONE, MERCHANT, 5_000_000)), None).verified


def test_no_receipt_anywhere_is_not_found():
    verdict = verify(EXPECTED, None, None)
    assert (verdict.failure, verdict.transfers, verdict.block_number) == (Failure.NOT_FOUND, (), 0)


def test_a_receipt_only_at_head_is_not_solidified_and_never_verified():
    verdict = verify(EXPECTED, None, receipt(PAYMENT, solidified=False))
    assert verdict.failure is Failure.NOT_SOLIDIFIED and not verdict.verified and verdict.matched is None
    assert [t.solidified for t in verdict.transfers] == [False]


@pytest.mark.parametrize("result", [ExecutionResult.REVERTED, ExecutionResult.OUT_OF_ENERGY, ExecutionResult.FAILED])
def test_an_execution_that_did_not_succeed_is_failed_even_with_a_matching_log(result):
    assert verify(EXPECTED, receipt(PAYMENT, result=result), None).failure is Failure.FAILED


def test_no_transfer_event_at_all_is_no_transfer_log():
    approval = Log(index=0, contract_address=USDT, topics=(b"\x8c" * 32,), data=b"")
    assert verify(EXPECTED, receipt(approval), None).failure is Failure.NO_TRANSFER_LOG


def test_a_look_alike_token_emitting_the_same_event_is_wrong_contract():
    verdict = verify(EXPECTED, receipt(transfer_log(0, FAKE_USDT, PAYER, MERCHANT, 5_000_000)), None)
    assert verdict.failure is Failure.WRONG_CONTRACT
    assert [t.contract_address for t in verdict.transfers] == [FAKE_USDT]


@pytest.mark.parametrize(
    ("log", "failure"),
    [
        (transfer_log(0, USDT, SOMEONE, MERCHANT, 5_000_000), Failure.WRONG_FROM),
        (transfer_log(0, USDT, PAYER, SOMEONE, 5_000_000), Failure.WRONG_TO),
        (transfer_log(0, USDT, PAYER, MERCHANT, 4_999_999), Failure.WRONG_AMOUNT),
        (transfer_log(0, USDT, PAYER, MERCHANT, 5_000_001), Failure.WRONG_AMOUNT),
    ],
)
def test_each_mismatch_has_its_reason(log, failure):
    assert verify(EXPECTED, receipt(log), None).failure is failure


def test_checks_run_in_order_so_the_first_failing_one_is_reported():
    # Wrong sender AND wrong amount: the sender is checked first.
    assert verify(EXPECTED, receipt(transfer_log(0, USDT, SOMEONE, MERCHANT, 1)), None).failure is Failure.WRONG_FROM


def test_the_matching_event_is_found_among_several_and_keeps_its_log_index():
    logs = (
        transfer_log(0, FAKE_USDT, PAYER, MERCHANT, 5_000_000),
        transfer_log(1, USDT, PAYER, SOMEONE, 5_000_000),
        transfer_log(2, USDT, PAYER, MERCHANT, 5_000_000),
    )
    verdict = verify(EXPECTED, receipt(*logs), None)
    assert verdict.verified and verdict.matched.log_index == 2 and len(verdict.transfers) == 3


def test_logs_that_only_look_like_a_trc20_transfer_are_ignored():
    erc721 = Log(
        index=0, contract_address=USDT,
        topics=(TRANSFER_EVENT_TOPIC, encode_address(PAYER), encode_address(MERCHANT), encode_uint256(5_000_000)),
        data=b"",
    )  # fmt: skip
    assert transfers_of(receipt(erc721)) == ()
    assert verify(EXPECTED, receipt(erc721), None).failure is Failure.NO_TRANSFER_LOG


def test_an_address_topic_with_dirty_padding_is_compared_as_the_masked_address_the_token_credited():
    dirty_padding = Log(
        index=1, contract_address=USDT,
        topics=(TRANSFER_EVENT_TOPIC, b"\x01" + encode_address(PAYER)[1:], encode_address(MERCHANT)),
        data=encode_uint256(5_000_000),
    )  # fmt: skip
    verdict = verify(EXPECTED, receipt(dirty_padding), None)
    assert verdict.verified and verdict.matched.from_address == PAYER


def test_an_amount_beyond_int64_from_a_hostile_token_is_decoded_and_simply_does_not_match():
    verdict = verify(EXPECTED, receipt(transfer_log(0, USDT, PAYER, MERCHANT, 2**255)), None)
    assert verdict.failure is Failure.WRONG_AMOUNT and verdict.transfers[0].amount_base_units == 2**255

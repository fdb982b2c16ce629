"""What an HTTP answer from TronGrid means: the shapes TRON uses for failures, many of them with HTTP 200."""

from __future__ import annotations

import email.utils
import time

import pytest

from lucid_tron.trongrid import (
    TronGridBadResponse,
    TronGridNodeBusy,
    TronGridNodeError,
    TronGridThrottled,
    TronGridUnavailable,
)
from lucid_tron.trongrid._responses import decode_node_message, interpret, retry_after_s


def answer(body: str, status: int = 200, retry_after: str | None = None):
    return interpret(status, body.encode(), retry_after)


def test_a_json_answer_is_returned_parsed():
    assert answer('{"blockID": "00aa", "block_header": {}}') == {"blockID": "00aa", "block_header": {}}


def test_an_accepted_broadcast_is_a_result_not_an_error():
    assert answer('{"result": true, "txid": "ab"}') == {"result": True, "txid": "ab"}


def test_a_successful_trigger_is_a_result_not_an_error():
    body = '{"result": {"result": true}, "transaction": {"txID": "ab"}}'
    assert answer(body)["transaction"] == {"txID": "ab"}


def test_an_empty_object_is_a_result():
    # TRON answers {} for an account or transaction it does not know: not an error.
    assert answer("{}") == {}


def test_an_error_field_is_a_node_error_without_a_code():
    with pytest.raises(TronGridNodeError) as caught:
        answer('{"Error": "class java.lang.IllegalArgumentException : invalid address"}')

    assert caught.value.code is None
    assert caught.value.node_message == "class java.lang.IllegalArgumentException : invalid address"


def test_a_code_with_a_hex_message_is_a_node_error_with_the_decoded_text():
    body = '{"code": "CONTRACT_VALIDATE_ERROR", "txid": "ab", "message": "%s"}' % "balance is not sufficient".encode().hex()

    with pytest.raises(TronGridNodeError) as caught:
        answer(body)

    assert (caught.value.code, caught.value.node_message, caught.value.txid) == (
        "CONTRACT_VALIDATE_ERROR",
        "balance is not sufficient",
        "ab",
    )


def test_a_duplicate_broadcast_is_a_node_error_the_caller_can_recognise():
    with pytest.raises(TronGridNodeError) as caught:
        answer('{"code": "DUP_TRANSACTION_ERROR", "txid": "ab", "message": "%s"}' % b"Dup transaction.".hex())

    assert caught.value.code == "DUP_TRANSACTION_ERROR"


def test_a_code_nested_in_result_is_a_node_error():
    body = '{"result": {"code": "CONTRACT_VALIDATE_ERROR", "message": "%s"}}' % b"No contract or not a smart contract".hex()

    with pytest.raises(TronGridNodeError) as caught:
        answer(body)

    assert caught.value.node_message == "No contract or not a smart contract"


def test_the_v1_api_failure_shape_is_a_node_error():
    with pytest.raises(TronGridNodeError, match="invalid limit"):
        answer('{"success": false, "error": "invalid limit", "statusCode": 400}')


@pytest.mark.parametrize("code", ["SERVER_BUSY", "NO_CONNECTION", "NOT_ENOUGH_EFFECTIVE_CONNECTION"])
def test_a_busy_node_is_unavailable_not_a_refusal(code):
    with pytest.raises(TronGridNodeBusy) as caught:
        answer('{"code": "%s", "message": ""}' % code)

    assert isinstance(caught.value, TronGridUnavailable)
    assert caught.value.code == code


def test_a_suspended_message_is_throttling_with_its_pause():
    message = "request rate exceeded the allowed_rps(10), and the query server is suspended for 5 s"

    with pytest.raises(TronGridThrottled) as caught:
        answer('{"Error": "%s"}' % message)

    assert caught.value.retry_after_s == 5.0


@pytest.mark.parametrize("status", [429, 403])
def test_429_and_403_are_throttling(status):
    with pytest.raises(TronGridThrottled) as caught:
        answer("{}", status, retry_after="7")

    assert caught.value.retry_after_s == 7.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_unavailable_with_retry_after_when_given(status):
    with pytest.raises(TronGridUnavailable) as caught:
        answer("oops", status, retry_after="2")

    assert not isinstance(caught.value, (TronGridThrottled, TronGridBadResponse))
    assert caught.value.retry_after_s == 2.0


@pytest.mark.parametrize(("status", "body"), [(404, "not found"), (301, ""), (200, "<html>"), (200, "")])
def test_other_statuses_and_bodies_that_are_not_json_are_bad_responses(status, body):
    with pytest.raises(TronGridBadResponse) as caught:
        answer(body, status)

    assert caught.value.status == status


@pytest.mark.parametrize(
    ("message", "text"),
    [
        ("56616c6964617465207369676e6174757265206572726f72", "Validate signature error"),
        ("plain words", "plain words"),
        ("ff00", "ff00"),  # hex, but not printable UTF-8: kept as it came
        ("", ""),
    ],
)
def test_node_messages_are_decoded_only_when_they_are_hex_of_text(message, text):
    assert decode_node_message(message) == text


def test_retry_after_reads_seconds_and_http_dates():
    in_ten_seconds = email.utils.formatdate(time.time() + 10, usegmt=True)

    assert retry_after_s("3") == 3.0
    assert 8.0 <= retry_after_s(in_ten_seconds) <= 10.0
    assert retry_after_s("-4") == 0.0
    assert retry_after_s("soon") is None
    assert retry_after_s(None) is None

"""The TRC20 slice of the ABI: selectors, words, transfer call data and Transfer event logs."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lucid_tron.chain import (
    TRANSFER_EVENT_TOPIC,
    TRANSFER_SELECTOR,
    AbiError,
    decode_address_word,
    decode_transfer_call,
    decode_transfer_log,
    decode_uint256,
    encode_address,
    encode_call,
    encode_transfer,
    encode_uint256,
    selector,
    to_base58,
)

USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
KEY_ONE_ADDRESS = "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC"


def test_transfer_selector_is_a9059cbb():
    assert selector("transfer(address,uint256)").hex() == "a9059cbb" == TRANSFER_SELECTOR.hex()


def test_balance_of_selector_is_70a08231():
    assert selector("balanceOf(address)").hex() == "70a08231"


def test_transfer_event_topic_is_keccak_of_its_signature():
    assert TRANSFER_EVENT_TOPIC.hex() == "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def test_selector_refuses_a_signature_with_spaces():
    with pytest.raises(AbiError):
        selector("transfer(address, uint256)")


def test_address_word_is_the_account_id_without_41_left_padded():
    assert encode_address(USDT).hex() == "00" * 12 + "a614f803b6fd780986a42c78ec9c7f77e6ded13c"


def test_uint256_word_is_big_endian():
    assert encode_uint256(1_000_000).hex() == f"{1_000_000:064x}"


@pytest.mark.parametrize("value", [-1, 2**256, True, 1.0])
def test_uint256_refuses_what_does_not_fit(value):
    with pytest.raises(AbiError):
        encode_uint256(value)


def test_encode_call_puts_the_selector_before_one_word_per_argument():
    data = encode_call("approve(address,uint256)", USDT, 5)
    assert data == selector("approve(address,uint256)") + encode_address(USDT) + encode_uint256(5)


def test_encode_call_refuses_the_wrong_number_of_arguments():
    with pytest.raises(AbiError):
        encode_call("transfer(address,uint256)", USDT)


def test_encode_call_refuses_unsupported_types():
    with pytest.raises(AbiError):
        encode_call("setName(string)", "x")


def test_encode_call_encodes_bool():
    assert encode_call("pause(bool)", True)[4:] == encode_uint256(1)


def test_transfer_call_decodes_to_recipient_and_amount():
    assert decode_transfer_call(encode_transfer(KEY_ONE_ADDRESS, 12_340_000)) == (KEY_ONE_ADDRESS, 12_340_000)


def test_decode_transfer_call_refuses_another_selector():
    data = encode_call("approve(address,uint256)", KEY_ONE_ADDRESS, 1)
    with pytest.raises(AbiError, match="selector"):
        decode_transfer_call(data)


def test_decode_transfer_call_refuses_extra_bytes():
    with pytest.raises(AbiError, match="68 bytes"):
        decode_transfer_call(encode_transfer(KEY_ONE_ADDRESS, 1) + bytes(32))


def test_a_transfer_call_with_dirty_address_padding_decodes_to_the_masked_address_as_usdt_reads_it():
    data = bytearray(encode_transfer(KEY_ONE_ADDRESS, 1))
    data[4:16] = b"\xff" * 12

    assert decode_transfer_call(bytes(data)) == (KEY_ONE_ADDRESS, 1)


@given(st.binary(min_size=12, max_size=12), st.binary(min_size=20, max_size=20))
def test_an_address_word_is_its_low_20_bytes_whatever_the_padding(padding, account_id):
    assert decode_address_word(padding + account_id) == to_base58(b"\x41" + account_id)


def test_a_transfer_log_with_dirty_topic_padding_names_the_masked_addresses():
    topics = [TRANSFER_EVENT_TOPIC, b"\x01" * 12 + encode_address(KEY_ONE_ADDRESS)[12:], encode_address(USDT)]
    assert decode_transfer_log(topics, encode_uint256(7)) == (KEY_ONE_ADDRESS, USDT, 7)


def test_transfer_log_in_trongrid_hex_form_decodes_to_from_to_amount():
    topics = [TRANSFER_EVENT_TOPIC.hex(), encode_address(KEY_ONE_ADDRESS).hex(), encode_address(USDT).hex()]
    assert decode_transfer_log(topics, encode_uint256(7).hex()) == (KEY_ONE_ADDRESS, USDT, 7)


def test_decode_transfer_log_refuses_another_event():
    topics = [bytes(32), encode_address(KEY_ONE_ADDRESS), encode_address(USDT)]
    with pytest.raises(AbiError):
        decode_transfer_log(topics, encode_uint256(7))


def test_decode_transfer_log_refuses_a_log_without_indexed_addresses():
    with pytest.raises(AbiError):
        decode_transfer_log([TRANSFER_EVENT_TOPIC], encode_uint256(7))


def test_decode_uint256_refuses_a_short_word():
    with pytest.raises(AbiError):
        decode_uint256(b"\x01")


@given(st.binary(min_size=20, max_size=20), st.integers(min_value=0, max_value=2**256 - 1))
def test_transfer_call_round_trips(account_id, amount):
    to = to_base58(b"\x41" + account_id)
    assert decode_transfer_call(encode_transfer(to, amount)) == (to, amount)
    assert decode_address_word(encode_address(to)) == to

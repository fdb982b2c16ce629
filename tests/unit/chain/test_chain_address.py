"""TRON addresses: base58check "T..." and hex "41..." forms of the same 21 bytes, with precise refusals."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lucid_tron.chain import (
    InvalidAddress,
    address_from_public_key,
    decode_address,
    is_address,
    to_base58,
    to_hex,
)

USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
USDT_HEX = "41a614f803b6fd780986a42c78ec9c7f77e6ded13c"
BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
# secp256k1 generator point G = public key of private key 1.
G_UNCOMPRESSED = bytes.fromhex(
    "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
    "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8"
)

account_ids = st.binary(min_size=20, max_size=20)


def reason_of(value) -> str:
    with pytest.raises(InvalidAddress) as caught:
        decode_address(value)
    return caught.value.reason


def test_usdt_base58_decodes_to_its_known_hex():
    assert to_hex(USDT) == USDT_HEX


def test_usdt_hex_encodes_to_its_known_base58():
    assert to_base58(bytes.fromhex(USDT_HEX)) == USDT


def test_hex_and_base58_forms_decode_to_the_same_bytes():
    assert decode_address(USDT) == decode_address(USDT_HEX) == bytes.fromhex(USDT_HEX)


def test_uppercase_hex_is_accepted():
    assert decode_address(USDT_HEX.upper()) == bytes.fromhex(USDT_HEX)


def test_generator_point_is_the_address_of_private_key_one():
    assert address_from_public_key(G_UNCOMPRESSED) == "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC"


def test_public_key_without_04_prefix_and_compressed_give_the_same_address():
    compressed = b"\x02" + G_UNCOMPRESSED[1:33]  # G's y is even
    assert address_from_public_key(G_UNCOMPRESSED[1:]) == address_from_public_key(compressed) == (
        "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC"
    )


def test_public_key_off_the_curve_is_refused():
    off_curve = G_UNCOMPRESSED[:-1] + bytes([G_UNCOMPRESSED[-1] ^ 1])
    with pytest.raises(InvalidAddress) as caught:
        address_from_public_key(off_curve)
    assert caught.value.reason == "BAD_PUBLIC_KEY"


def test_bad_checksum_is_refused_as_bad_checksum():
    # Swapping two characters keeps the alphabet and length but breaks the checksum.
    swapped = USDT[:5] + USDT[6] + USDT[5] + USDT[7:]
    assert reason_of(swapped) == "BAD_CHECKSUM"


def test_bitcoin_address_is_refused_as_wrong_prefix():
    # A valid Bitcoin P2PKH address: base58check passes, but the version byte is 0x00, not 0x41.
    assert reason_of("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa") == "WRONG_PREFIX"


def test_ethereum_address_is_refused_as_wrong_prefix():
    assert reason_of("0x" + USDT_HEX[2:]) == "WRONG_PREFIX"


def test_hex_account_id_without_41_is_refused_as_wrong_prefix():
    assert reason_of(USDT_HEX[2:]) == "WRONG_PREFIX"


def test_hex_with_another_prefix_is_refused_as_wrong_prefix():
    assert reason_of("42" + USDT_HEX[2:]) == "WRONG_PREFIX"


def test_hex_of_wrong_length_is_refused_as_wrong_length():
    assert reason_of(USDT_HEX + "00") == "WRONG_LENGTH"


def test_base58_of_an_address_given_as_if_hex_is_not_mistaken_for_hex():
    # "T..." contains non-hex letters, so it is read as base58, never as hex digits.
    assert decode_address(USDT) == bytes.fromhex(USDT_HEX)


def test_hex_address_with_a_non_hex_character_is_refused_as_bad_characters():
    # 'O' is neither hex nor base58: a hex address with a typo must not be read as base58 by accident.
    assert reason_of(USDT_HEX[:10] + "O" + USDT_HEX[11:]) == "BAD_CHARACTERS"


def test_base58_with_a_character_outside_the_alphabet_is_refused_as_bad_characters():
    assert reason_of(USDT[:-1] + "0") == "BAD_CHARACTERS"


def test_truncated_base58_is_refused_as_wrong_length():
    assert reason_of(USDT[:-1]) == "WRONG_LENGTH"


def test_empty_string_is_refused_as_empty():
    assert reason_of("") == "EMPTY"


def test_surrounding_whitespace_is_refused_as_bad_characters():
    assert reason_of(f" {USDT}") == "BAD_CHARACTERS"


def test_oversized_string_is_refused_as_wrong_length_before_decoding():
    assert reason_of("T" * 1_000_000) == "WRONG_LENGTH"


def test_non_string_is_refused():
    assert reason_of(bytes.fromhex(USDT_HEX)) == "NOT_A_STRING"


def test_to_base58_refuses_raw_bytes_without_the_41_prefix():
    with pytest.raises(InvalidAddress):
        to_base58(b"\x00" + bytes(20))


def test_is_address_is_false_for_an_ethereum_address():
    assert not is_address("0x" + USDT_HEX[2:])


def test_is_address_is_true_for_both_forms():
    assert is_address(USDT) and is_address(USDT_HEX)


@given(account_ids)
def test_base58_round_trips_any_account_id(account_id):
    raw = b"\x41" + account_id
    text = to_base58(raw)
    assert text.startswith("T") and len(text) == 34
    assert decode_address(text) == raw
    assert decode_address(to_hex(text)) == raw


@given(account_ids, st.data())
def test_any_single_character_change_to_a_valid_address_is_refused(account_id, data):
    text = to_base58(b"\x41" + account_id)
    position = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
    replacement = data.draw(st.sampled_from(BASE58_ALPHABET).filter(lambda c: c != text[position]))
    changed = text[:position] + replacement + text[position + 1 :]
    assert not is_address(changed)

"""lucid_tron.validation.FieldChecks: every bad field of a request named, all at once, as InvalidArgument."""

from __future__ import annotations

import re

import pytest

from lucid_tron.chain import PrivateKey, to_hex
from lucid_tron.validation import FieldChecks
from lucid_tron.errors import InvalidArgument

ADDRESS = PrivateKey(b"\x01" * 32).address
TXID = "ab" * 32


def violations(check: FieldChecks) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as raised:
        check.done()
    return {v.field: v.description for v in raised.value.violations}


def test_a_request_without_violations_passes():
    check = FieldChecks()
    assert check.address("address", ADDRESS) == ADDRESS
    assert check.txid("txid", TXID.upper()) == TXID
    check.done()


def test_every_bad_field_is_named_in_one_error():
    check = FieldChecks()
    check.address("to_address", "")
    check.txid("txid", "xyz")
    check.amount("amount_base_units", -5)

    assert set(violations(check)) == {"to_address", "txid", "amount_base_units"}


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (ADDRESS[:-1] + ("A" if ADDRESS[-1] != "A" else "B"), "BAD_CHECKSUM"),
        ("0x" + "11" * 20, "WRONG_PREFIX"),
        ("T" + "1" * 33, "BAD_CHECKSUM"),  # base58 alphabet and length, no valid checksum
        ("T" * 200, "WRONG_LENGTH"),
        ("TQ0O", "BAD_CHARACTERS"),
        ("1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "WRONG_PREFIX"),  # a Bitcoin address
    ],
)
def test_a_malformed_address_is_refused_with_the_reason(value, says):
    check = FieldChecks()
    assert check.address("owner_address", value) is None
    assert says in violations(check)["owner_address"]


def test_a_hex_address_is_refused_because_the_contracts_take_base58():
    check = FieldChecks()
    check.address("address", to_hex(ADDRESS))
    assert "base58" in violations(check)["address"]


def test_an_empty_optional_address_is_none_and_no_violation():
    check = FieldChecks()
    assert check.address("from_address", "", required=False) is None
    check.done()


def test_an_empty_required_address_is_refused_as_required():
    check = FieldChecks()
    check.address("address", "")
    assert violations(check)["address"].startswith("required")


@pytest.mark.parametrize("value", ["ab" * 31, "ab" * 33, "zz" * 32, " " + "ab" * 32])
def test_a_txid_must_be_64_hex_characters(value):
    check = FieldChecks()
    assert check.txid("txid", value) is None
    assert "64 hex" in violations(check)["txid"]


@pytest.mark.parametrize(
    ("value", "says"), [(-1, "negative"), (0, "greater than 0"), (2**63, "at most"), (True, "integer")]
)
def test_an_amount_is_a_positive_int64(value, says):
    check = FieldChecks()
    assert check.amount("amount_sun", value) is None
    assert says in violations(check)["amount_sun"]


def test_zero_is_an_amount_where_allowed():
    check = FieldChecks()
    assert check.amount("call_value_sun", 0, allow_zero=True) == 0
    check.done()


KNOWN = {1: "head", 2: "solidified"}


def test_an_unspecified_enum_takes_the_documented_default():
    check = FieldChecks()
    assert check.enum("finality", 0, KNOWN, unspecified="solidified") == "solidified"
    check.done()


def test_an_unspecified_enum_without_a_default_is_required():
    check = FieldChecks()
    check.enum("asset", 0, KNOWN)
    assert violations(check)["asset"].startswith("required")


@pytest.mark.parametrize("value", [3, -1, 2**31 - 1])
def test_an_enum_number_the_contract_does_not_define_is_refused(value):
    check = FieldChecks()
    assert check.enum("finality", value, KNOWN, unspecified="solidified") is None
    assert f"unknown enum value {value}" in violations(check)["finality"]


@pytest.mark.parametrize(("value", "expected"), [(0, 50), (1, 1), (200, 200)])
def test_a_page_size_of_zero_means_the_default(value, expected):
    check = FieldChecks()
    assert check.page_size("page_size", value, default=50, maximum=200) == expected
    check.done()


@pytest.mark.parametrize("value", [-1, 201, 2**31 - 1])
def test_an_absurd_page_size_is_refused(value):
    check = FieldChecks()
    check.page_size("page_size", value, default=50, maximum=200)
    assert "between 1 and 200" in violations(check)["page_size"]


def test_an_oversized_string_is_refused_with_its_length():
    check = FieldChecks()
    check.string("memo", "x" * 300, max_length=256)
    assert "300" in violations(check)["memo"]


def test_a_pattern_names_what_was_expected():
    check = FieldChecks()
    check.pattern("function_selector", "transfer (address)", re.compile(r"\w+\(\w*\)"), expected="a signature")
    assert violations(check)["function_selector"] == "must be a signature"


def test_bytes_must_fit_their_bound_and_word_size():
    check = FieldChecks()
    check.data("parameter", b"\x00" * 33, max_length=64, multiple_of=32)
    check.data("raw_data", b"\x00" * 65, max_length=64)
    found = violations(check)
    assert "multiple of 32" in found["parameter"]
    assert "at most 64" in found["raw_data"]


@pytest.mark.parametrize(
    ("seconds", "nanos", "says"),
    [(-1, 0, "negative"), (1, -5, "signs"), (0, -1, "negative"), (10**12, 0, "range"), (0, 10**9, "range")],
)
def test_a_malformed_or_negative_duration_is_refused(seconds, nanos, says):
    check = FieldChecks()
    assert check.duration("max_age", seconds, nanos) is None
    assert says in violations(check)["max_age"]


def test_a_duration_is_read_in_seconds():
    check = FieldChecks()
    assert check.duration("max_age", 1, 500_000_000) == 1.5
    check.done()

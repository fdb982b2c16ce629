"""Amounts are ints in SUN or base units; decimal strings are parsed and printed exactly."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lucid_tron.chain import (
    MAX_INT64,
    SUN_PER_TRX,
    InvalidAmount,
    format_trx,
    format_usdt,
    parse_trx,
    parse_usdt,
    validate_amount,
)


def reason_of(call) -> str:
    with pytest.raises(InvalidAmount) as caught:
        call()
    return caught.value.reason


def test_one_trx_is_one_million_sun():
    assert SUN_PER_TRX == 1_000_000


def test_parse_trx_reads_a_decimal_as_sun():
    assert parse_trx("1.5") == 1_500_000


def test_parse_trx_reads_a_whole_number():
    assert parse_trx("15000") == 15_000_000_000


def test_parse_trx_reads_the_smallest_unit():
    assert parse_trx("0.000001") == 1


def test_parse_trx_refuses_seven_decimals():
    assert reason_of(lambda: parse_trx("0.0000001")) == "TOO_MANY_DECIMALS"


@pytest.mark.parametrize("text", ["", "-1", "+1", "1e6", "1,5", " 1", "1.", ".5", "1.5\n", "NaN", "١"])
def test_parse_trx_refuses_anything_but_a_plain_decimal(text):
    assert reason_of(lambda: parse_trx(text)) == "BAD_DECIMAL"


def test_parse_trx_refuses_a_float():
    assert reason_of(lambda: parse_trx(1.5)) == "BAD_DECIMAL"


def test_parse_trx_refuses_more_than_int64_sun():
    assert reason_of(lambda: parse_trx("9223372036854.775808")) == "TOO_LARGE"


def test_parse_usdt_reads_base_units():
    assert parse_usdt("12.34") == 12_340_000


def test_format_trx_prints_exact_decimals_without_trailing_zeros():
    assert format_trx(1_500_000) == "1.5"


def test_format_trx_prints_whole_trx_without_a_point():
    assert format_trx(2_000_000) == "2"


def test_format_trx_prints_one_sun():
    assert format_trx(1) == "0.000001"


def test_format_trx_prints_negative_deltas():
    assert format_trx(-1_500_000) == "-1.5"


def test_format_trx_is_exact_at_int64_max():
    assert format_trx(MAX_INT64) == "9223372036854.775807"


def test_format_usdt_prints_exact_decimals():
    assert format_usdt(2_000_001) == "2.000001"


def test_format_refuses_a_float():
    assert reason_of(lambda: format_trx(1.5)) == "NOT_AN_INTEGER"


def test_validate_amount_returns_a_valid_amount():
    assert validate_amount(1, field="amount_sun") == 1


def test_validate_amount_refuses_zero_unless_allowed():
    assert reason_of(lambda: validate_amount(0, field="amount_sun")) == "ZERO"
    assert validate_amount(0, field="amount_sun", allow_zero=True) == 0


def test_validate_amount_refuses_a_bool():
    assert reason_of(lambda: validate_amount(True, field="amount_sun")) == "NOT_AN_INTEGER"


def test_validate_amount_refuses_a_numeric_string():
    assert reason_of(lambda: validate_amount("10", field="amount_sun")) == "NOT_AN_INTEGER"


def test_validate_amount_names_the_field():
    with pytest.raises(InvalidAmount) as caught:
        validate_amount(-1, field="payout.amount_sun")
    assert caught.value.field == "payout.amount_sun"
    assert "payout.amount_sun" in str(caught.value)


def test_invalid_amount_is_a_value_error():
    assert issubclass(InvalidAmount, ValueError)


@given(st.integers(max_value=-1))
def test_negative_amounts_are_refused(value):
    assert reason_of(lambda: validate_amount(value, field="amount_sun", allow_zero=True)) == "NEGATIVE"


@given(st.integers(min_value=MAX_INT64 + 1))
def test_amounts_above_int64_are_refused(value):
    assert reason_of(lambda: validate_amount(value, field="amount_sun")) == "TOO_LARGE"


@given(st.integers(min_value=0, max_value=MAX_INT64))
def test_format_then_parse_is_the_identity(sun):
    assert parse_trx(format_trx(sun)) == sun

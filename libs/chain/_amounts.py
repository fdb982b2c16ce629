"""Amounts as integers: SUN for TRX (1 TRX = 1,000,000 SUN) and base units for USDT (6 decimals).

Nothing here touches a float: decimal strings are parsed and printed digit by digit.
"""

from __future__ import annotations

import re

from ._exceptions import InvalidAmount

__all__ = [
    "MAX_INT64",
    "SUN_PER_TRX",
    "TRX_DECIMALS",
    "USDT_DECIMALS",
    "InvalidAmount",
    "format_trx",
    "format_units",
    "format_usdt",
    "parse_trx",
    "parse_units",
    "parse_usdt",
    "validate_amount",
]

SUN_PER_TRX = 1_000_000
TRX_DECIMALS = 6
USDT_DECIMALS = 6
# Every TRON amount field is a protobuf int64.
MAX_INT64 = 2**63 - 1

_DECIMAL = re.compile(r"(?P<whole>[0-9]+)(?:\.(?P<fraction>[0-9]+))?", re.ASCII)


def _require_int(value: object, field: str) -> int:
    # bool is an int subclass: True must not silently become 1 SUN.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmount(f"must be an integer, got {type(value).__name__}", field=field, reason="NOT_AN_INTEGER")
    return value


def validate_amount(value: int, *, field: str, allow_zero: bool = False) -> int:
    """`value` unchanged if it is an int in [1, MAX_INT64] (or [0, MAX_INT64] with allow_zero); else InvalidAmount."""
    value = _require_int(value, field)
    if value < 0:
        raise InvalidAmount(f"must not be negative, got {value}", field=field, reason="NEGATIVE")
    if value == 0 and not allow_zero:
        raise InvalidAmount("must be greater than 0", field=field, reason="ZERO")
    if value > MAX_INT64:
        raise InvalidAmount(f"must be at most {MAX_INT64} (int64), got {value}", field=field, reason="TOO_LARGE")
    return value


def format_units(units: int, decimals: int) -> str:
    """The exact decimal string of `units` smallest units: format_units(1_500_000, 6) == "1.5"; no trailing zeros."""
    units = _require_int(units, "units")
    sign = "-" if units < 0 else ""
    whole, fraction = divmod(abs(units), 10**decimals)
    if fraction == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{str(fraction).rjust(decimals, '0').rstrip('0')}"


def parse_units(text: str, decimals: int, *, field: str = "amount") -> int:
    """Smallest units of a plain non-negative decimal string ("1.5" -> 1_500_000 for 6 decimals).

    Refuses signs, exponents, spaces, separators, more than `decimals` fraction digits and results above int64.
    """
    if not isinstance(text, str):
        raise InvalidAmount(f"must be a decimal string, got {type(text).__name__}", field=field, reason="BAD_DECIMAL")
    match = _DECIMAL.fullmatch(text)
    if match is None:
        raise InvalidAmount(
            f"must be a plain decimal like 1.5 (digits, optional point and digits), got {text!r}",
            field=field,
            reason="BAD_DECIMAL",
        )
    fraction = match.group("fraction") or ""
    if len(fraction) > decimals:
        raise InvalidAmount(
            f"has {len(fraction)} decimal places, at most {decimals} allowed: {text!r}",
            field=field,
            reason="TOO_MANY_DECIMALS",
        )
    units = int(match.group("whole")) * 10**decimals + int(fraction.ljust(decimals, "0") or "0")
    return validate_amount(units, field=field, allow_zero=True)


def format_trx(sun: int) -> str:
    """TRX as an exact decimal string: format_trx(1_500_000) == "1.5"."""
    return format_units(sun, TRX_DECIMALS)


def format_usdt(base_units: int) -> str:
    """USDT as an exact decimal string: format_usdt(2_000_001) == "2.000001"."""
    return format_units(base_units, USDT_DECIMALS)


def parse_trx(text: str, *, field: str = "amount") -> int:
    """SUN of a TRX decimal string: parse_trx("1.5") == 1_500_000; more than 6 decimals is refused."""
    return parse_units(text, TRX_DECIMALS, field=field)


def parse_usdt(text: str, *, field: str = "amount") -> int:
    """USDT base units of a decimal string: parse_usdt("0.000001") == 1; more than 6 decimals is refused."""
    return parse_units(text, USDT_DECIMALS, field=field)

"""Request validation for the lucid.tron.v1 contracts: every bad field named, all of them at once.

A servicer reads each field through one `FieldChecks`, then calls `done()`, which raises
`lucid_tron.errors.InvalidArgument` with one BadRequest field violation per bad field (AIP-193)::

    check = FieldChecks()
    address = check.address("address", request.address)
    finality = check.enum("finality", request.finality, FINALITIES, unspecified=Finality.SOLIDIFIED)
    check.done()                      # raises InvalidArgument naming every bad field, or returns

Each method returns the parsed value, or a placeholder (None) when the field is bad; the placeholder is never used
because `done()` raises first. No grpc or protobuf import: values come in as the Python values of proto fields.

What the contracts accept (common.proto):
- addresses are base58check ("T...", 34 characters, checksum verified). The 42-digit hex form ("41...") is refused
  with a description that says so, because the contracts promise base58 both ways;
- txids are 64 hex digits (either case; answered lowercase);
- amounts are int64 integers in their unit; negative never, zero only where allowed;
- enums: UNSPECIFIED (0) takes the documented default or is refused when the field is required; a number the
  contract does not define (a newer client, or a forged request) is refused;
- strings and bytes have an upper bound, so a caller cannot make the server hash or decode megabytes;
- page sizes: 0 means the default, a negative or larger-than-maximum size is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

from lucid_tron.errors import FieldViolation, InvalidArgument

from lucid_tron.chain import MAX_INT64, InvalidAddress, decode_address, to_base58

__all__ = ["MAX_STRING_LENGTH", "FieldChecks"]

T = TypeVar("T")

#: Default upper bound of a free-text string field, in characters.
MAX_STRING_LENGTH = 256
_TXID = re.compile(r"[0-9a-fA-F]{64}")
_HEX_ADDRESS = re.compile(r"(?:41)?[0-9a-fA-F]{40}")
# google.protobuf.Duration's documented range: +-315,576,000,000 s, nanos within +-999,999,999 of the same sign.
_MAX_DURATION_S = 315_576_000_000


class FieldChecks:
    """Collects the violations of one request; `done()` raises them together."""

    def __init__(self) -> None:
        self._violations: list[FieldViolation] = []

    @property
    def violations(self) -> tuple[FieldViolation, ...]:
        return tuple(self._violations)

    def fail(self, field: str, description: str) -> None:
        """Record a violation found by the caller's own rule (e.g. one that spans two fields)."""
        self._violations.append(FieldViolation(field, description))

    def done(self) -> None:
        """Raise InvalidArgument naming every bad field, if there is one."""
        if self._violations:
            raise InvalidArgument(*self._violations)

    # -- fields ---------------------------------------------------------------------------------------------------

    def address(self, field: str, value: str, *, required: bool = True) -> str | None:
        """A base58check TRON address, returned in its canonical "T..." form; "" is None when optional."""
        if value == "":
            if required:
                self.fail(field, "required: a base58 TRON address (T..., 34 characters)")
            return None
        if _HEX_ADDRESS.fullmatch(value):
            self.fail(field, "hex address given; this API takes base58 addresses (T..., 34 characters)")
            return None
        try:
            raw = decode_address(value)
        except InvalidAddress as error:
            self.fail(field, f"not a TRON address ({error.reason}): {error.message}")
            return None
        return to_base58(raw)

    def txid(self, field: str, value: str, *, required: bool = True) -> str | None:
        """A transaction id: 64 hex digits, returned lowercase; "" is None when optional."""
        if value == "":
            if required:
                self.fail(field, "required: a transaction id of 64 hex characters")
            return None
        if not _TXID.fullmatch(value):
            shown = f"{len(value)} characters" if len(value) != 64 else "non-hex characters"
            self.fail(field, f"a transaction id is 64 hex characters, got {shown}")
            return None
        return value.lower()

    def amount(self, field: str, value: int, *, allow_zero: bool = False) -> int | None:
        """An int64 amount in its unit: never negative, 0 only with `allow_zero`."""
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field, f"must be an integer, got {type(value).__name__}")
            return None
        if value < 0:
            self.fail(field, f"must not be negative, got {value}")
            return None
        if value == 0 and not allow_zero:
            self.fail(field, "required: must be greater than 0")
            return None
        if value > MAX_INT64:
            self.fail(field, f"must be at most {MAX_INT64}, got {value}")
            return None
        return value

    def non_negative(self, field: str, value: int, *, maximum: int = MAX_INT64) -> int | None:
        """A count or height: 0..maximum."""
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
            self.fail(field, f"must be between 0 and {maximum}, got {value!r}")
            return None
        return value

    def enum(
        self,
        field: str,
        value: int,
        known: Mapping[int, T],
        *,
        unspecified: T | None = None,
    ) -> T | None:
        """The domain value of an enum number. 0 (UNSPECIFIED) gives `unspecified`, or is refused when that is None
        (the field is required); a number not in `known` is refused."""
        if value == 0:
            if unspecified is None:
                self.fail(field, "required: must not be UNSPECIFIED")
            return unspecified
        if value not in known:
            self.fail(field, f"unknown enum value {value}")
            return None
        return known[value]

    def string(
        self, field: str, value: str, *, required: bool = True, max_length: int = MAX_STRING_LENGTH
    ) -> str | None:
        """A string of at most `max_length` characters; "" is None when optional."""
        if value == "":
            if required:
                self.fail(field, "required: must not be empty")
            return None
        if len(value) > max_length:
            self.fail(field, f"must be at most {max_length} characters, got {len(value)}")
            return None
        return value

    def pattern(
        self, field: str, value: str, regex: re.Pattern[str], *, expected: str, max_length: int = MAX_STRING_LENGTH
    ) -> str | None:
        """A required string of at most `max_length` characters that fully matches `regex` (`expected` says what)."""
        text = self.string(field, value, max_length=max_length)
        if text is None:
            return None
        if not regex.fullmatch(text):
            self.fail(field, f"must be {expected}")
            return None
        return text

    def data(
        self, field: str, value: bytes, *, required: bool = True, max_length: int, multiple_of: int = 1
    ) -> bytes | None:
        """Bytes of at most `max_length` (and a multiple of `multiple_of`); b"" is None when optional."""
        if not value:
            if required:
                self.fail(field, "required: must not be empty")
            return None
        if len(value) > max_length:
            self.fail(field, f"must be at most {max_length} bytes, got {len(value)}")
            return None
        if len(value) % multiple_of:
            self.fail(field, f"length must be a multiple of {multiple_of} bytes, got {len(value)}")
            return None
        return bytes(value)

    def page_size(self, field: str, value: int, *, default: int, maximum: int) -> int | None:
        """AIP-158 page size: 0 means `default`; negative or above `maximum` is refused."""
        if value == 0:
            return default
        if not 0 < value <= maximum:
            self.fail(field, f"must be between 1 and {maximum} (0 for the default of {default}), got {value}")
            return None
        return value

    def duration(self, field: str, seconds: int, nanos: int, *, maximum_s: float | None = None) -> float | None:
        """A google.protobuf.Duration as float seconds (0 stays 0.0); negative or malformed durations are refused."""
        if not -_MAX_DURATION_S <= seconds <= _MAX_DURATION_S or not -999_999_999 <= nanos <= 999_999_999:
            self.fail(field, "is not a valid duration (seconds or nanos out of range)")
            return None
        if (seconds > 0 and nanos < 0) or (seconds < 0 and nanos > 0):
            self.fail(field, "is not a valid duration (seconds and nanos have different signs)")
            return None
        if seconds < 0 or nanos < 0:
            self.fail(field, "must not be negative")
            return None
        total = seconds + nanos / 1e9
        if maximum_s is not None and total > maximum_s:
            self.fail(field, f"must be at most {maximum_s:g} s, got {total:g} s")
            return None
        return total

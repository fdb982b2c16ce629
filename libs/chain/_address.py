"""TRON addresses: 21 raw bytes (0x41 + 20-byte account id), shown as base58check "T..." or hex "41..."."""

from __future__ import annotations

import hashlib

import base58
from Crypto.Hash import keccak

from ._exceptions import InvalidAddress

__all__ = [
    "ADDRESS_PREFIX",
    "InvalidAddress",
    "address_from_public_key",
    "decode_address",
    "is_address",
    "keccak256",
    "to_base58",
    "to_hex",
]

ADDRESS_PREFIX = 0x41
_RAW_LENGTH = 21
_BASE58_LENGTH = 34
_HEX_LENGTH = 42
# Longer input is refused before any decoding: base58 decoding is quadratic in the input length.
_MAX_INPUT = 128
_BASE58_ALPHABET = frozenset("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_SECP256K1_P = 2**256 - 2**32 - 977


def keccak256(data: bytes) -> bytes:
    """Keccak-256 as Ethereum and TRON use it (not NIST SHA3-256)."""
    return keccak.new(digest_bits=256, data=bytes(data)).digest()


def _checksum(payload: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]


def to_base58(raw: bytes) -> str:
    """The "T..." form of 21 raw address bytes."""
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise InvalidAddress(f"raw address must be bytes, got {type(raw).__name__}", reason="NOT_BYTES")
    raw = bytes(raw)
    if len(raw) != _RAW_LENGTH:
        raise InvalidAddress(f"raw address must be {_RAW_LENGTH} bytes, got {len(raw)}", reason="WRONG_LENGTH")
    if raw[0] != ADDRESS_PREFIX:
        raise InvalidAddress(f"raw address must start with 0x41, got 0x{raw[0]:02x}", reason="WRONG_PREFIX")
    return base58.b58encode(raw + _checksum(raw)).decode("ascii")


def decode_address(value: str) -> bytes:
    """The 21 raw bytes of a base58check ("T...", checksum verified) or hex ("41...", 42 digits) address.

    Raises InvalidAddress whose `reason` is one of NOT_A_STRING, EMPTY, BAD_CHARACTERS, WRONG_LENGTH, WRONG_PREFIX,
    BAD_CHECKSUM.
    """
    if not isinstance(value, str):
        raise InvalidAddress(f"address must be a string, got {type(value).__name__}", reason="NOT_A_STRING")
    if value == "":
        raise InvalidAddress("address is empty", reason="EMPTY")
    if len(value) > _MAX_INPUT:
        raise InvalidAddress(
            f"address is {len(value)} characters; a TRON address is {_BASE58_LENGTH} base58 characters (T...) "
            f"or {_HEX_LENGTH} hex digits (41...)",
            reason="WRONG_LENGTH",
        )
    if value[:2] in ("0x", "0X"):
        raise InvalidAddress(
            "address starts with 0x (an Ethereum-style address); TRON hex addresses are 42 digits starting with 41",
            reason="WRONG_PREFIX",
        )
    if all(c in _HEX_DIGITS for c in value):
        return _decode_hex(value)
    return _decode_base58(value)


def _decode_hex(value: str) -> bytes:
    if len(value) == 40:
        raise InvalidAddress(
            "address is 40 hex digits (a 20-byte account id without TRON's 41 prefix); expected 42 digits starting "
            "with 41",
            reason="WRONG_PREFIX",
        )
    if len(value) != _HEX_LENGTH:
        raise InvalidAddress(
            f"hex address must be {_HEX_LENGTH} digits (21 bytes), got {len(value)}", reason="WRONG_LENGTH"
        )
    if value[:2] != "41":
        raise InvalidAddress(f"hex address must start with 41, got {value[:2]}", reason="WRONG_PREFIX")
    return bytes.fromhex(value)


def _decode_base58(value: str) -> bytes:
    for position, char in enumerate(value):
        if char not in _BASE58_ALPHABET:
            raise InvalidAddress(
                f"character {char!r} at position {position} is neither base58 nor hex", reason="BAD_CHARACTERS"
            )
    # Every 25-byte payload starting with 0x41 encodes to exactly 34 base58 characters.
    if len(value) != _BASE58_LENGTH:
        raise InvalidAddress(
            f"base58 address must be {_BASE58_LENGTH} characters, got {len(value)}", reason="WRONG_LENGTH"
        )
    decoded = base58.b58decode(value)
    if len(decoded) != _RAW_LENGTH + 4:
        raise InvalidAddress(
            f"base58 address decodes to {len(decoded)} bytes, expected 25 (21-byte address + 4-byte checksum)",
            reason="WRONG_LENGTH",
        )
    raw, checksum = decoded[:_RAW_LENGTH], decoded[_RAW_LENGTH:]
    if _checksum(raw) != checksum:
        raise InvalidAddress("base58 address checksum does not match (a mistyped character?)", reason="BAD_CHECKSUM")
    if raw[0] != ADDRESS_PREFIX:
        raise InvalidAddress(
            f"base58check payload starts with 0x{raw[0]:02x}, not TRON's 0x41 (an address of another chain, "
            "e.g. Bitcoin?)",
            reason="WRONG_PREFIX",
        )
    return raw


def to_hex(address: str) -> str:
    """The "41..." (lowercase hex) form of a base58 or hex address."""
    return decode_address(address).hex()


def is_address(value: str) -> bool:
    """Whether `value` is a valid base58check or hex TRON address."""
    try:
        decode_address(value)
    except InvalidAddress:
        return False
    return True


def address_from_public_key(pub: bytes) -> str:
    """The base58 address of a secp256k1 public key: 0x41 + last 20 bytes of keccak256(X || Y).

    Accepts the 65-byte uncompressed form (0x04 X Y), the bare 64-byte X || Y, or the 33-byte compressed form.
    """
    if not isinstance(pub, (bytes, bytearray, memoryview)):
        raise InvalidAddress(f"public key must be bytes, got {type(pub).__name__}", reason="NOT_BYTES")
    pub = bytes(pub)
    if len(pub) == 65 and pub[0] == 0x04:
        xy = pub[1:]
    elif len(pub) == 64:
        xy = pub
    elif len(pub) == 33 and pub[0] in (0x02, 0x03):
        xy = _decompress(pub)
    else:
        raise InvalidAddress(
            f"public key must be 65 bytes (0x04 X Y), 64 bytes (X Y) or 33 bytes compressed, got {len(pub)}",
            reason="BAD_PUBLIC_KEY",
        )
    x, y = int.from_bytes(xy[:32], "big"), int.from_bytes(xy[32:], "big")
    if (y * y - x * x * x - 7) % _SECP256K1_P != 0:
        raise InvalidAddress("public key is not a point on secp256k1", reason="BAD_PUBLIC_KEY")
    return to_base58(bytes([ADDRESS_PREFIX]) + keccak256(xy)[-20:])


def _decompress(compressed: bytes) -> bytes:
    x = int.from_bytes(compressed[1:], "big")
    if x >= _SECP256K1_P:
        raise InvalidAddress("public key is not a point on secp256k1", reason="BAD_PUBLIC_KEY")
    y = pow((x * x * x + 7) % _SECP256K1_P, (_SECP256K1_P + 1) // 4, _SECP256K1_P)
    if (y * y - x * x * x - 7) % _SECP256K1_P != 0:
        raise InvalidAddress("public key is not a point on secp256k1", reason="BAD_PUBLIC_KEY")
    if y % 2 != compressed[0] % 2:
        y = _SECP256K1_P - y
    return x.to_bytes(32, "big") + y.to_bytes(32, "big")

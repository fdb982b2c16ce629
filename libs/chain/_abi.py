"""The slice of the Solidity ABI that TRC20 needs: selectors, 32-byte words of address / uint256 / bool, the
transfer call and the Transfer event.

On the TVM an address is the 20-byte account id without TRON's 0x41 prefix, left-padded to 32 bytes. Decoding reads
an address word as the TVM does: the low 20 bytes, whatever the 12 padding bytes hold. Mainnet USDT (compiled before
Solidity checked padding) masks its `transfer` argument that way, so a call with dirty padding moves real tokens to the
masked address; refusing to read such a call would hide a transfer that happened.
"""

from __future__ import annotations

import re

from ._address import ADDRESS_PREFIX, decode_address, keccak256, to_base58
from ._exceptions import AbiError

__all__ = [
    "TRANSFER_EVENT_TOPIC",
    "TRANSFER_SELECTOR",
    "TRANSFER_SIGNATURE",
    "AbiError",
    "decode_address_word",
    "decode_transfer_call",
    "decode_transfer_log",
    "decode_uint256",
    "encode_address",
    "encode_bool",
    "encode_call",
    "encode_transfer",
    "encode_uint256",
    "selector",
]

WORD = 32
_UINT256_LIMIT = 2**256
# name(type,type,...) with no spaces: the canonical form the selector is hashed from.
_SIGNATURE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*\((?P<types>[a-z0-9,]*)\)", re.ASCII)

TRANSFER_SIGNATURE = "transfer(address,uint256)"


def selector(signature: str) -> bytes:
    """The 4-byte function selector: the first 4 bytes of keccak256 of the canonical signature."""
    _parse_signature(signature)
    return keccak256(signature.encode("ascii"))[:4]


def _parse_signature(signature: str) -> list[str]:
    if not isinstance(signature, str):
        raise AbiError(f"function signature must be a string, got {type(signature).__name__}")
    match = _SIGNATURE.fullmatch(signature)
    if match is None:
        raise AbiError(f"function signature must look like name(type,type) with no spaces, got {signature!r}")
    types = match.group("types")
    return types.split(",") if types else []


def encode_address(address: str) -> bytes:
    """The 32-byte word of an address (base58 or hex): its 20-byte account id, left-padded with zeros."""
    return bytes(12) + decode_address(address)[1:]


def encode_uint256(value: int) -> bytes:
    """The 32-byte big-endian word of an integer in [0, 2**256)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise AbiError(f"uint256 must be an int, got {type(value).__name__}")
    if not 0 <= value < _UINT256_LIMIT:
        raise AbiError(f"uint256 must be in [0, 2**256), got {value}")
    return value.to_bytes(WORD, "big")


def encode_bool(value: bool) -> bytes:
    """The 32-byte word of a bool (0 or 1)."""
    if not isinstance(value, bool):
        raise AbiError(f"bool must be a bool, got {type(value).__name__}")
    return int(value).to_bytes(WORD, "big")


_ENCODERS = {"address": encode_address, "uint256": encode_uint256, "bool": encode_bool}


def encode_call(signature: str, *args: object) -> bytes:
    """Call data: selector(signature) followed by one word per argument. Types: address, uint256, bool."""
    types = _parse_signature(signature)
    if len(args) != len(types):
        raise AbiError(f"{signature} takes {len(types)} arguments, got {len(args)}")
    words = []
    for position, (type_name, arg) in enumerate(zip(types, args)):
        encoder = _ENCODERS.get(type_name)
        if encoder is None:
            raise AbiError(f"argument {position} of {signature}: type {type_name!r} is not supported")
        words.append(encoder(arg))  # type: ignore[operator]
    return selector(signature) + b"".join(words)


def _word(value: bytes | str, what: str) -> bytes:
    if isinstance(value, str):
        digits = value[2:] if value[:2] in ("0x", "0X") else value
        try:
            value = bytes.fromhex(digits)
        except ValueError:
            raise AbiError(f"{what} is not hex") from None
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise AbiError(f"{what} must be bytes or hex, got {type(value).__name__}")
    value = bytes(value)
    if len(value) != WORD:
        raise AbiError(f"{what} must be 32 bytes, got {len(value)}")
    return value


def decode_uint256(word: bytes | str) -> int:
    """The integer in a 32-byte word (bytes or hex)."""
    return int.from_bytes(_word(word, "uint256 word"), "big")


def decode_address_word(word: bytes | str) -> str:
    """The base58 address in a 32-byte word (bytes or hex): its low 20 bytes, as the contract reads it (the 12
    padding bytes are ignored, see the module doc)."""
    word = _word(word, "address word")
    return to_base58(bytes([ADDRESS_PREFIX]) + word[12:])


TRANSFER_SELECTOR = selector(TRANSFER_SIGNATURE)
TRANSFER_EVENT_TOPIC = keccak256(b"Transfer(address,address,uint256)")


def encode_transfer(to: str, amount: int) -> bytes:
    """Call data of TRC20 transfer(to, amount); amount in the token's base units."""
    return encode_call(TRANSFER_SIGNATURE, to, amount)


def decode_transfer_call(data: bytes) -> tuple[str, int]:
    """(to as base58, amount in base units) of TRC20 transfer call data; AbiError if it is anything else."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise AbiError(f"call data must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if data[:4] != TRANSFER_SELECTOR:
        raise AbiError(
            f"call data selector is {data[:4].hex() or 'missing'}, not transfer(address,uint256) "
            f"({TRANSFER_SELECTOR.hex()})"
        )
    if len(data) != 4 + 2 * WORD:
        raise AbiError(f"transfer call data must be 68 bytes (selector + 2 words), got {len(data)}")
    return decode_address_word(data[4:36]), decode_uint256(data[36:68])


def decode_transfer_log(topics: list[bytes | str], data: bytes | str) -> tuple[str, str, int]:
    """(from, to, amount) of a TRC20 Transfer event log; topics and data as bytes or hex (TronGrid's form).

    The caller still checks that the log was emitted by the expected token contract.
    """
    if len(topics) != 3:
        raise AbiError(f"a Transfer log has 3 topics (event, from, to), got {len(topics)}")
    if _word(topics[0], "topic 0") != TRANSFER_EVENT_TOPIC:
        raise AbiError("topic 0 is not Transfer(address,address,uint256)")
    return (
        decode_address_word(topics[1]),
        decode_address_word(topics[2]),
        decode_uint256(data),
    )

"""Every error lucid_tron.chain raises: all are ValueError, so each means "this input is not acceptable"::

    ChainError(ValueError)      an argument that cannot be built into a transaction (reason: INVALID_RESOURCE,
    │                           INVALID_LOCK, INVALID_BLOCK_ID, INVALID_EXPIRATION, INVALID_MEMO, INVALID_CALL_DATA,
    │                           UNSUPPORTED_CONTRACT)
    ├── InvalidAddress          not a TRON address (reason: EMPTY, NOT_A_STRING, NOT_BYTES, BAD_CHARACTERS,
    │                           WRONG_LENGTH, WRONG_PREFIX, BAD_CHECKSUM, BAD_PUBLIC_KEY)
    ├── InvalidAmount           not an acceptable SUN / base-unit amount; names its `field` (reason: NOT_AN_INTEGER,
    │                           NEGATIVE, ZERO, TOO_LARGE, BAD_DECIMAL, TOO_MANY_DECIMALS)
    ├── InvalidKey              not a secp256k1 private key
    ├── InvalidSignature        not a 65-byte r|s|v signature that recovers to a key (reason: BAD_DIGEST for a digest
    │                           that is not 32 bytes)
    ├── AbiError                ABI data of the wrong shape (wrong selector, wrong length, bad word)
    └── MalformedTransaction    transaction bytes or JSON that cannot be trusted or understood (reason:
        │                       UNKNOWN_FIELDS, NON_CANONICAL, UNSUPPORTED_CONTRACT)
        └── TxidMismatch        a txID that is not sha256(raw_data)

Services turn these into lucid_tron.errors.InvalidArgument naming the request field; `reason` is a stable
UPPER_SNAKE_CASE code for machines. Messages never contain key material.
"""

from __future__ import annotations

__all__ = [
    "AbiError",
    "ChainError",
    "InvalidAddress",
    "InvalidAmount",
    "InvalidKey",
    "InvalidSignature",
    "MalformedTransaction",
    "TxidMismatch",
]


class ChainError(ValueError):
    """Base of lucid_tron.chain's errors."""

    reason: str = "CHAIN_ERROR"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason


class InvalidAddress(ChainError):
    """Not a TRON address; `reason` says why (bad checksum, wrong prefix, wrong length, ...)."""

    reason = "INVALID_ADDRESS"


class InvalidAmount(ChainError):
    """Not an acceptable amount. `field` names the amount that was checked (e.g. "amount_sun")."""

    reason = "INVALID_AMOUNT"

    def __init__(self, message: str, *, field: str, reason: str | None = None) -> None:
        super().__init__(f"{field}: {message}", reason=reason)
        self.field = field


class InvalidKey(ChainError):
    """Not a usable secp256k1 key. The message never repeats the key."""

    reason = "INVALID_KEY"


class InvalidSignature(ChainError):
    """Not a 65-byte r|s|v secp256k1 signature that recovers to a public key."""

    reason = "INVALID_SIGNATURE"


class AbiError(ChainError):
    """ABI-encoded data of the wrong shape."""

    reason = "ABI_ERROR"


class MalformedTransaction(ChainError):
    """Transaction bytes or JSON that cannot be decoded, or that carry something lucid-tron does not understand."""

    reason = "MALFORMED_TRANSACTION"


class TxidMismatch(MalformedTransaction):
    """A txID that is not sha256 of the raw_data it came with: the raw_data is not what was claimed."""

    reason = "TXID_MISMATCH"

    def __init__(self, claimed: str, computed: str) -> None:
        super().__init__(f"txID {claimed} does not match sha256(raw_data) {computed}")
        self.claimed = claimed
        self.computed = computed

"""Every error lucid_tron.keys raises, one tree::

    KeyCustodyError                 base; `reason` is a stable UPPER_SNAKE_CASE code for machines
    ├── InvalidMnemonic (ValueError)      not a BIP-39 English mnemonic (reason: WRONG_WORD_COUNT, UNKNOWN_WORD,
    │                                     BAD_CHECKSUM, NOT_A_STRING)
    ├── InvalidDerivation (ValueError)    an account or index outside [0, 2**31)
    ├── InvalidPrivateKey (ValueError)    not 32 bytes / 64 hex digits, or outside [1, n-1]
    ├── MasterSecretError                 the master secret file cannot be used (missing, unreadable, too short)
    ├── WrongMasterSecret                 the master secret does not open this install's vault
    │   └── RotationUnfinished            it would, but a master-key rotation was interrupted and must be re-run
    └── SealedRecordError                 a sealed record that does not authenticate, is malformed, or is sealed
                                          under a key this vault does not hold

Messages and reprs never contain key material, a master secret or a mnemonic's words: an error may be logged, sent to
a caller or kept in a trace. They say *where* (a word's position, a file's path, a record's key id), never *what*.
"""

from __future__ import annotations

__all__ = [
    "InvalidDerivation",
    "InvalidMnemonic",
    "InvalidPrivateKey",
    "KeyCustodyError",
    "MasterSecretError",
    "RotationUnfinished",
    "SealedRecordError",
    "WrongMasterSecret",
]


class KeyCustodyError(Exception):
    """Base of lucid_tron.keys's errors."""

    reason: str = "KEY_CUSTODY_ERROR"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason


class InvalidMnemonic(KeyCustodyError, ValueError):
    """Not a valid BIP-39 English mnemonic. Names a word by its position, never the word."""

    reason = "INVALID_MNEMONIC"


class InvalidDerivation(KeyCustodyError, ValueError):
    """A BIP-44 account or address index that cannot be derived (outside [0, 2**31))."""

    reason = "INVALID_DERIVATION"


class InvalidPrivateKey(KeyCustodyError, ValueError):
    """Not a usable secp256k1 private key. The message never repeats the key."""

    reason = "INVALID_PRIVATE_KEY"


class MasterSecretError(KeyCustodyError):
    """The master secret file cannot be used. Names the file, never its content."""

    reason = "MASTER_SECRET_UNUSABLE"


class WrongMasterSecret(KeyCustodyError):
    """The master secret does not open this install's vault (its key-check value does not authenticate)."""

    reason = "WRONG_MASTER_SECRET"


class RotationUnfinished(WrongMasterSecret):
    """The secret matches one side of a master-key rotation that did not finish: some records are sealed under the
    old key and some under the new, so one secret alone cannot read them all. Re-run the rotation with both."""

    reason = "ROTATION_UNFINISHED"


class SealedRecordError(KeyCustodyError):
    """A sealed record that does not authenticate under its associated data (tampered, or moved from another record),
    is not a sealed record at all, or is sealed under a key this vault does not hold."""

    reason = "SEALED_RECORD_INVALID"

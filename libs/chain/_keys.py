"""secp256k1 keys and TRON signatures: 65 bytes r (32) | s (32) | v (1), v the recovery id 0 or 1.

Signing is libsecp256k1's (coincurve): RFC 6979 deterministic nonces and low s, the same bytes tronpy produces for the
same key and digest. Verification accepts what the TRON network accepts: v as 0/1 or 27/28, and high s.
"""

from __future__ import annotations

import hmac
import secrets

import coincurve

from ._address import address_from_public_key, decode_address
from ._exceptions import InvalidKey, InvalidSignature

__all__ = [
    "SECP256K1_N",
    "PrivateKey",
    "recover_address",
    "recover_public_key",
    "verify_signature",
]

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_DIGEST_LENGTH = 32
_SIGNATURE_LENGTH = 65


class PrivateKey:
    """A secp256k1 private key. Its repr and str show only the address, never the key."""

    __slots__ = ("_key", "_address")

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, (bytes, bytearray, memoryview)):
            raise InvalidKey(f"private key must be bytes, got {type(secret).__name__}")
        secret = bytes(secret)
        if len(secret) != 32:
            raise InvalidKey(f"private key must be 32 bytes, got {len(secret)}")
        if not 0 < int.from_bytes(secret, "big") < SECP256K1_N:
            raise InvalidKey("private key is out of range (must be in [1, n-1])")
        self._key = coincurve.PrivateKey(secret)
        self._address = address_from_public_key(self.public_key)

    @classmethod
    def from_hex(cls, value: str) -> PrivateKey:
        """A key from 64 hex digits (an optional 0x prefix is accepted)."""
        if not isinstance(value, str):
            raise InvalidKey(f"hex private key must be a string, got {type(value).__name__}")
        digits = value[2:] if value[:2] in ("0x", "0X") else value
        if len(digits) != 64:
            raise InvalidKey(f"hex private key must be 64 hex digits, got {len(digits)} characters")
        try:
            secret = bytes.fromhex(digits)
        except ValueError:
            raise InvalidKey("hex private key contains a character that is not a hex digit") from None
        return cls(secret)

    @classmethod
    def generate(cls) -> PrivateKey:
        """A fresh key from the operating system's CSPRNG."""
        while True:
            secret = secrets.token_bytes(32)
            if 0 < int.from_bytes(secret, "big") < SECP256K1_N:
                return cls(secret)

    @property
    def public_key(self) -> bytes:
        """The 65-byte uncompressed public key (0x04 X Y)."""
        return self._key.public_key.format(compressed=False)

    @property
    def address(self) -> str:
        """The base58 ("T...") address of this key."""
        return self._address

    def to_bytes(self) -> bytes:
        """The 32 secret bytes, for encryption at rest only. Never log, return or send them."""
        return self._key.secret

    def sign_digest(self, digest: bytes) -> bytes:
        """A 65-byte r|s|v signature of a 32-byte digest (for a transaction: its txid), v in {0, 1}."""
        digest = _require_digest(digest)
        return self._key.sign_recoverable(digest, hasher=None)

    def __repr__(self) -> str:
        return f"PrivateKey(address={self._address!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PrivateKey):
            return NotImplemented
        return hmac.compare_digest(self._key.secret, other._key.secret)

    def __hash__(self) -> int:
        return hash(self._address)

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would copy the secret into caches, queues or crash dumps without anyone deciding to.
        raise TypeError("PrivateKey cannot be pickled; store to_bytes() encrypted instead")


def _require_digest(digest: bytes) -> bytes:
    if not isinstance(digest, (bytes, bytearray, memoryview)):
        raise InvalidSignature(f"digest must be bytes, got {type(digest).__name__}", reason="BAD_DIGEST")
    digest = bytes(digest)
    if len(digest) != _DIGEST_LENGTH:
        raise InvalidSignature(f"digest must be 32 bytes, got {len(digest)}", reason="BAD_DIGEST")
    return digest


def recover_public_key(digest: bytes, signature: bytes) -> bytes:
    """The 65-byte uncompressed public key that made `signature` over `digest`. v may be 0/1 or 27/28."""
    digest = _require_digest(digest)
    if not isinstance(signature, (bytes, bytearray, memoryview)):
        raise InvalidSignature(f"signature must be bytes, got {type(signature).__name__}")
    signature = bytes(signature)
    if len(signature) != _SIGNATURE_LENGTH:
        raise InvalidSignature(f"signature must be 65 bytes (r|s|v), got {len(signature)}")
    v = signature[64]
    recovery_id = v - 27 if v >= 27 else v
    if recovery_id not in (0, 1, 2, 3):
        raise InvalidSignature(f"signature v must be 0..3 or 27..30, got {v}")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    if not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N):
        raise InvalidSignature("signature r and s must be in [1, n-1]")
    try:
        public_key = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes([recovery_id]), digest, hasher=None
        )
    except Exception as error:  # coincurve raises plain Exception or ValueError for unrecoverable signatures
        raise InvalidSignature(f"signature does not recover to a public key: {error}") from None
    return public_key.format(compressed=False)


def recover_address(digest: bytes, signature: bytes) -> str:
    """The base58 address whose key made `signature` over `digest`."""
    return address_from_public_key(recover_public_key(digest, signature))


def verify_signature(digest: bytes, signature: bytes, address: str) -> bool:
    """Whether `signature` over `digest` was made by the key of `address` (base58 or hex).

    A malformed signature is simply not valid (False); a malformed `address` is the caller's bug (InvalidAddress).
    """
    expected = decode_address(address)
    try:
        signer = decode_address(recover_address(digest, signature))
    except InvalidSignature:
        return False
    return hmac.compare_digest(signer, expected)

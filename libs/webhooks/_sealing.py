"""Endpoint secrets sealed at rest: AES-256-GCM under a key from the settings, bound to the endpoint they sign for.

A sealed secret is stored as "sealed:v1:<key id>:<base64url(nonce || ciphertext || tag)>", the key id being the first
16 hex digits of sha256 of the key, so the key that opens it is found without trying each; the endpoint's id is the
associated data, so a sealed secret copied to another endpoint does not open. A new 96-bit nonce is drawn for each
seal (os.urandom); secrets are sealed a few times per endpoint, far from GCM's bound for random nonces.

Rotating the key: set the new key as WEBHOOK_SECRETS_KEY and the old one in WEBHOOK_SECRETS_PREVIOUS_KEYS; every
secret still opens, and `Webhooks.reseal` (run by each replica at start) seals what the old key sealed under the new
one. Once that ran, the old key can go. Without a key, secrets are stored unsealed (the service logs it at start)
and a key set later reseals them the same way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["SEALED_PREFIX", "SealingError", "SecretSealer", "parse_key"]

SEALED_PREFIX = "sealed:v1:"
_KEY_BYTES = 32
_NONCE_BYTES = 12


class SealingError(ValueError):
    """A stored secret that no configured key opens (the key was removed too soon, or the value was altered)."""


def parse_key(text: str) -> bytes:
    """A key as configured: base64 (standard or URL-safe) of 32 random bytes. ValueError otherwise."""
    try:
        key = base64.b64decode(text.strip().replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    if len(key) != _KEY_BYTES:
        raise ValueError(f"{len(key)} bytes, not {_KEY_BYTES}")
    return key


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


class SecretSealer:
    """Seals with `key` (None: stores secrets as they are) and opens what `key` or any of `previous` sealed."""

    def __init__(self, key: bytes | None, previous: Iterable[bytes] = ()) -> None:
        self._key_id = None if key is None else _key_id(key)
        self._seal_with = None if key is None else AESGCM(key)
        self._openers = {_key_id(k): AESGCM(k) for k in (*previous, *((key,) if key is not None else ()))}

    @property
    def sealing(self) -> bool:
        return self._seal_with is not None

    def seal(self, secret: str, endpoint_id: str) -> str:
        """`secret` as stored for `endpoint_id`."""
        if self._seal_with is None:
            return secret
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._seal_with.encrypt(nonce, secret.encode(), endpoint_id.encode())
        return f"{SEALED_PREFIX}{self._key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, stored: str, endpoint_id: str) -> str:
        """The secret a stored value holds (an unsealed one as it is). SealingError when no key opens it."""
        if not stored.startswith(SEALED_PREFIX):
            return stored
        key_id, _, encoded = stored[len(SEALED_PREFIX):].partition(":")
        opener = self._openers.get(key_id)
        if opener is None:
            raise SealingError(f"the secret of {endpoint_id} is sealed under key {key_id}, which is not configured")
        try:
            raw = base64.urlsafe_b64decode(encoded)
            return opener.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], endpoint_id.encode()).decode()
        except (binascii.Error, ValueError, InvalidTag):
            raise SealingError(f"the sealed secret of {endpoint_id} does not open: altered, or another endpoint's") from None

    def is_current(self, stored: str) -> bool:
        """Whether `stored` is as `seal` makes it now: sealed under the current key (or unsealed without a key)."""
        if self._key_id is None:
            return not stored.startswith(SEALED_PREFIX)
        return stored.startswith(f"{SEALED_PREFIX}{self._key_id}:")

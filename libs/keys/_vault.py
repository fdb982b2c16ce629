"""Encryption at rest: AES-256-GCM under a key derived with scrypt from the master secret and a random per-install salt.

The install document (collection `vault`, `_id: "install"`) holds no secret, only what opens the vault. An install
has one key, two while a master-key rotation is unfinished; each has its own salt::

    {_id: "install", v: 1, created_at,
     active: KEY_ID,                                 the key that seals new records
     keys: {KEY_ID: {salt: 16 bytes, kdf: {name: "scrypt", n, r, p},
                     check: SEALED}},                a fixed constant sealed under the key: proves a secret right
     rotation: {from: KEY_ID, to: KEY_ID, started_at}}    only while a rotation is unfinished

A sealed record is `{"v": 1, "key_id", "nonce": 12 random bytes, "ct"}` with the record's identity as associated data
(`record_aad("wallet", wallet_id)` = b"wallet:<id>"), so a ciphertext copied into another record does not open.

Opening never writes, except to create the install document the first time (race-safe: the insert's `_id` decides,
a loser reads the winner's). A wrong secret raises WrongMasterSecret before anything is touched. While a rotation is
unfinished, records are sealed under either key: a vault opened with one secret alone could read only some of them,
so `open` refuses (RotationUnfinished) unless given both, and then seals under the new key.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from lucid_tron.storage import DURABLE_WRITES

from ._errors import KeyCustodyError, RotationUnfinished, SealedRecordError, WrongMasterSecret
from ._master_secret import MasterSecret

__all__ = [
    "DEFAULT_SCRYPT",
    "SEALED_VERSION",
    "VAULT_COLLECTION",
    "ScryptParams",
    "Vault",
    "record_aad",
]

VAULT_COLLECTION = "vault"
INSTALL_ID = "install"
SEALED_VERSION = 1
_NONCE_BYTES = 12
_TAG_BYTES = 16
_SALT_BYTES = 16
_KEY_BYTES = 32
_KEY_CHECK = b"lucid-tron vault key check v1"
# Bounds on stored KDF parameters: a tampered install document must not make `open` allocate gigabytes.
_MAX_SCRYPT_N = 2**20
_MAX_SCRYPT_R = 32
_MAX_SCRYPT_P = 16


@dataclass(frozen=True)
class ScryptParams:
    """scrypt's cost: memory 128 * r * n bytes (32 MiB at the default), time about linear in n * r * p."""

    n: int = 2**15
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        limits = (("n", self.n, _MAX_SCRYPT_N), ("r", self.r, _MAX_SCRYPT_R), ("p", self.p, _MAX_SCRYPT_P))
        for name, value, limit in limits:
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
                raise KeyCustodyError(
                    f"scrypt {name} must be an integer in [1, {limit}], got {value!r}", reason="BAD_KDF"
                )
        if self.n < 2 or self.n & (self.n - 1):
            raise KeyCustodyError(f"scrypt n must be a power of two, got {self.n}", reason="BAD_KDF")

    def to_document(self) -> dict[str, Any]:
        return {"name": "scrypt", "n": self.n, "r": self.r, "p": self.p}

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> ScryptParams:
        if not isinstance(document, Mapping) or document.get("name") != "scrypt":
            raise KeyCustodyError("the vault names a key derivation other than scrypt", reason="BAD_KDF")
        return cls(n=document.get("n"), r=document.get("r"), p=document.get("p"))  # type: ignore[arg-type]


#: n=2**15, r=8, p=1: 32 MiB and about 0.1 to 0.4 s here (a Raspberry Pi 5 about 2-3 times that), paid once per start.
DEFAULT_SCRYPT = ScryptParams()


def record_aad(kind: str, record_id: object) -> bytes:
    """The associated data that binds a sealed value to its record: b"<kind>:<record_id>", e.g. b"wallet:w-1"."""
    return f"{kind}:{record_id}".encode()


@dataclass(frozen=True)
class KeySlot:
    """One key of the install document, as stored: its salt, KDF and key-check value (none of it secret)."""

    key_id: str
    salt: bytes
    kdf: ScryptParams
    check: Mapping[str, Any]

    @classmethod
    async def new(cls, secret: MasterSecret, kdf: ScryptParams) -> tuple[KeySlot, AESGCM]:
        """A fresh key of `secret` (random id and salt) and the key itself."""
        key_id, salt = secrets.token_hex(8), os.urandom(_SALT_BYTES)
        cipher = await asyncio.to_thread(_derive, secret, salt, kdf)
        return cls(key_id, salt, kdf, _seal_with(cipher, key_id, _key_check_aad(key_id), _KEY_CHECK)), cipher

    @classmethod
    def from_document(cls, key_id: str, document: Any) -> KeySlot:
        if (
            not isinstance(document, Mapping)
            or not isinstance(document.get("salt"), bytes)
            or not isinstance(document.get("check"), Mapping)
        ):
            raise KeyCustodyError(f"the vault's key {key_id} is malformed", reason="MALFORMED_VAULT")
        return cls(key_id, document["salt"], ScryptParams.from_document(document.get("kdf")), document["check"])

    def to_document(self) -> dict[str, Any]:
        return {"salt": self.salt, "kdf": self.kdf.to_document(), "check": dict(self.check)}

    async def open_with(self, secret: MasterSecret) -> AESGCM | None:
        """The key `secret` derives for this slot, or None when the key-check value says it is another secret."""
        cipher = await asyncio.to_thread(_derive, secret, self.salt, self.kdf)
        try:
            _unseal_with(cipher, _key_check_aad(self.key_id), self.check)
        except SealedRecordError:
            return None
        return cipher


def _derive(secret: MasterSecret, salt: bytes, kdf: ScryptParams) -> AESGCM:
    return AESGCM(Scrypt(salt=salt, length=_KEY_BYTES, n=kdf.n, r=kdf.r, p=kdf.p).derive(secret.to_bytes()))


def _key_check_aad(key_id: str) -> bytes:
    return record_aad("vault-key-check", key_id)


@dataclass(frozen=True)
class InstallState:
    """The install document, parsed: the active key, every key slot, and an unfinished rotation if any."""

    active: str
    slots: Mapping[str, KeySlot]
    rotation_from: str | None
    rotation_to: str | None

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> InstallState:
        keys = document.get("keys")
        active = document.get("active")
        if not isinstance(keys, Mapping) or active not in keys:
            raise KeyCustodyError("the vault's install document is malformed", reason="MALFORMED_VAULT")
        slots = {key_id: KeySlot.from_document(key_id, entry) for key_id, entry in keys.items()}
        rotation = document.get("rotation")
        if rotation is None:
            return cls(active, slots, None, None)
        if not isinstance(rotation, Mapping) or rotation.get("from") not in slots or rotation.get("to") not in slots:
            raise KeyCustodyError("the vault's rotation record is malformed", reason="MALFORMED_VAULT")
        return cls(active, slots, rotation["from"], rotation["to"])


def vault_collection(db: AsyncDatabase[Any]) -> AsyncCollection[Any]:
    return db.get_collection(VAULT_COLLECTION, write_concern=DURABLE_WRITES)


async def read_install(db: AsyncDatabase[Any]) -> InstallState | None:
    document = await vault_collection(db).find_one({"_id": INSTALL_ID})
    return None if document is None else InstallState.from_document(document)


class Vault:
    """Seals and unseals records under the keys it holds; seals new ones under `key_id`. Holds no reference to the
    master secret, and its repr shows only key ids."""

    __slots__ = ("_ciphers", "_sealing_key_id")

    def __init__(self, ciphers: Mapping[str, AESGCM], sealing_key_id: str) -> None:
        self._ciphers = dict(ciphers)
        self._sealing_key_id = sealing_key_id

    @classmethod
    async def open(
        cls,
        db: AsyncDatabase[Any],
        secret: MasterSecret,
        *,
        previous: MasterSecret | None = None,
        kdf: ScryptParams = DEFAULT_SCRYPT,
    ) -> Vault:
        """The vault of this install, created on first use with `kdf` (later opens use the stored parameters).

        WrongMasterSecret when `secret` does not open it. During an unfinished rotation, `secret` must be the new
        secret and `previous` the old one (RotationUnfinished otherwise); the vault then reads both and seals under
        the new key."""
        state = await read_install(db)
        if state is None:
            slot, cipher = await KeySlot.new(secret, kdf)
            install = {
                "_id": INSTALL_ID,
                "v": 1,
                "active": slot.key_id,
                "keys": {slot.key_id: slot.to_document()},
                "created_at": datetime.now(UTC),
            }
            try:
                await vault_collection(db).insert_one(install)
            except DuplicateKeyError:
                state = await read_install(db)
            else:
                return cls({slot.key_id: cipher}, slot.key_id)
        assert state is not None
        if state.rotation_to is None:
            cipher = await state.slots[state.active].open_with(secret)
            if cipher is None:
                raise WrongMasterSecret(f"the master secret from {secret.source} does not open this vault")
            return cls({state.active: cipher}, state.active)
        return await cls._open_mid_rotation(state, secret, previous)

    @classmethod
    async def _open_mid_rotation(
        cls, state: InstallState, secret: MasterSecret, previous: MasterSecret | None
    ) -> Vault:
        assert state.rotation_from is not None and state.rotation_to is not None
        new = await state.slots[state.rotation_to].open_with(secret)
        old = None if previous is None else await state.slots[state.rotation_from].open_with(previous)
        if new is not None and old is not None:
            return cls({state.rotation_from: old, state.rotation_to: new}, state.rotation_to)
        if new is None and await state.slots[state.rotation_from].open_with(secret) is None:
            raise WrongMasterSecret(f"the master secret from {secret.source} does not open this vault")
        raise RotationUnfinished(
            f"a master-key rotation from key {state.rotation_from} to key {state.rotation_to} did not finish: "
            "run the rotation again with the same old and new secrets"
        )

    @property
    def key_id(self) -> str:
        """The id of the key new records are sealed under."""
        return self._sealing_key_id

    @property
    def key_ids(self) -> frozenset[str]:
        """The ids of every key this vault can unseal with."""
        return frozenset(self._ciphers)

    def seal(self, aad: bytes, plaintext: bytes) -> dict[str, Any]:
        """`plaintext` encrypted under a fresh random nonce and bound to `aad` (the record's identity), BSON-ready."""
        if not isinstance(aad, bytes) or not isinstance(plaintext, bytes):
            raise TypeError("seal takes aad and plaintext as bytes")
        return _seal_with(self._ciphers[self._sealing_key_id], self._sealing_key_id, aad, plaintext)

    def unseal(self, aad: bytes, sealed: Mapping[str, Any]) -> bytes:
        """The plaintext of `sealed`; SealedRecordError when it was altered, sealed for another `aad`, is not a
        sealed record, or was sealed under a key this vault does not hold."""
        if not isinstance(aad, bytes):
            raise TypeError("unseal takes aad as bytes")
        key_id = sealed.get("key_id") if isinstance(sealed, Mapping) else None
        cipher = self._ciphers.get(key_id) if isinstance(key_id, str) else None
        if cipher is None:
            if isinstance(key_id, str):
                raise SealedRecordError(
                    f"sealed under key {key_id}, which this vault does not hold", reason="UNKNOWN_KEY"
                )
            raise SealedRecordError("not a sealed record", reason="MALFORMED_SEALED_RECORD")
        return _unseal_with(cipher, aad, sealed)

    def __repr__(self) -> str:
        return f"Vault(key_id={self._sealing_key_id!r}, key_ids={sorted(self._ciphers)!r})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Vault cannot be pickled")


def _seal_with(cipher: AESGCM, key_id: str, aad: bytes, plaintext: bytes) -> dict[str, Any]:
    nonce = os.urandom(_NONCE_BYTES)
    return {"v": SEALED_VERSION, "key_id": key_id, "nonce": nonce, "ct": cipher.encrypt(nonce, plaintext, aad)}


def _unseal_with(cipher: AESGCM, aad: bytes, sealed: Any) -> bytes:
    if (
        not isinstance(sealed, Mapping)
        or sealed.get("v") != SEALED_VERSION
        or not isinstance(sealed.get("nonce"), bytes)
        or len(sealed["nonce"]) != _NONCE_BYTES
        or not isinstance(sealed.get("ct"), bytes)
        or len(sealed["ct"]) < _TAG_BYTES
    ):
        raise SealedRecordError("not a sealed record of version 1", reason="MALFORMED_SEALED_RECORD")
    try:
        return cipher.decrypt(sealed["nonce"], sealed["ct"], aad)
    except InvalidTag:
        raise SealedRecordError(
            "sealed record does not authenticate: altered, or sealed for another record", reason="NOT_AUTHENTIC"
        ) from None

"""Master-key rotation: re-seal every record under a key derived from a new master secret, surviving a crash anywhere.

Three steps, each a single-document write, so a SIGKILL between any two leaves a state the next run resumes from:

1. begin: the new key's slot (fresh salt, key-check value) and `rotation: {from, to}` are added to the install
   document, on condition that the old key is still active and no rotation is recorded (two concurrent runs: one
   begins, the other finds its rotation and joins it).
2. re-seal: every record whose sealed field is not under the new key is unsealed and sealed again under it, written
   only if the field still holds the ciphertext that was read (compare-and-set on its nonce). Each record is under
   the old key or the new one at every moment, and the install document names both.
3. finish: the new key becomes active and the old key's slot and the rotation record are removed, on condition that
   this rotation is still the one recorded.

Run it with wallet-manager stopped: a service still holding only the old key would seal a new record under it after
step 2 looked, and that record would be unreadable after step 3. Re-running with the same secrets after a crash
completes the rotation; re-running after it completed does nothing.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from lucid_tron.storage import DURABLE_WRITES

from ._errors import KeyCustodyError, SealedRecordError, WrongMasterSecret
from ._master_secret import MasterSecret
from ._vault import (
    DEFAULT_SCRYPT,
    INSTALL_ID,
    InstallState,
    KeySlot,
    ScryptParams,
    Vault,
    read_install,
    record_aad,
    vault_collection,
)

__all__ = ["AadFor", "RotationResult", "collection_aad", "rotate_master_key"]

#: Re-sealed records written per round trip; each write is still a single-document update, atomic on its own.
_BATCH = 100

#: The associated data of a record, from its collection's name and its document.
AadFor = Callable[[str, Mapping[str, Any]], bytes]


def collection_aad(collection: str, document: Mapping[str, Any]) -> bytes:
    """The convention: a record's kind is its collection's name in the singular (a trailing "s" dropped), so a
    document of `wallets` has the associated data `record_aad("wallet", _id)` = b"wallet:<_id>"."""
    return record_aad(collection.removesuffix("s"), document["_id"])


@dataclass(frozen=True)
class RotationResult:
    """What a rotation did: the key ids it rotated from and to (`from_key_id` is None when a previous run had already
    finished it) and how many records this run re-sealed."""

    from_key_id: str | None
    to_key_id: str
    resealed: int


async def rotate_master_key(
    db: AsyncDatabase[Any],
    old: MasterSecret,
    new: MasterSecret,
    records: Sequence[tuple[str, str]],
    *,
    aad_for: AadFor = collection_aad,
    kdf: ScryptParams = DEFAULT_SCRYPT,
) -> RotationResult:
    """Re-seal every sealed field named in `records` (pairs of collection and top-level field) from the key of `old`
    to a new key derived from `new` with `kdf`, then make `new` the only secret that opens the vault.

    WrongMasterSecret, with nothing written, when `old` does not open the vault, or when an unfinished rotation is
    to a secret other than `new`. SealedRecordError naming the record when one does not authenticate."""
    if hmac.compare_digest(old.to_bytes(), new.to_bytes()):
        # Rotating to the same secret would change nothing worth having, and every re-run would start another.
        raise KeyCustodyError(f"the new master secret from {new.source} is the old one", reason="SAME_SECRET")
    state = await read_install(db)
    if state is None:
        raise KeyCustodyError("this database has no vault to rotate", reason="NO_VAULT")
    new_cipher = None
    if state.rotation_to is None:
        old_cipher = await state.slots[state.active].open_with(old)
        if old_cipher is None:
            if await state.slots[state.active].open_with(new) is not None:
                return RotationResult(None, state.active, 0)
            raise WrongMasterSecret(f"the old master secret from {old.source} does not open this vault")
        try:
            state, new_cipher = await _begin(db, state, new, kdf)
        except KeyCustodyError as error:
            # A concurrent run with the same secrets may have begun and finished the whole rotation meanwhile.
            done = await read_install(db) if error.reason == "CONCURRENT_CHANGE" else None
            if done is None or done.rotation_to is not None or await done.slots[done.active].open_with(new) is None:
                raise
            return RotationResult(None, done.active, 0)
    else:
        old_cipher = await state.slots[state.rotation_from].open_with(old)
        if old_cipher is None:
            raise WrongMasterSecret(f"the old master secret from {old.source} does not open this vault")
    assert state.rotation_from is not None and state.rotation_to is not None
    if new_cipher is None:
        new_cipher = await state.slots[state.rotation_to].open_with(new)
        if new_cipher is None:
            raise WrongMasterSecret(
                f"the new master secret from {new.source} is not the one of the unfinished rotation from key "
                f"{state.rotation_from} to key {state.rotation_to}: run it with that one"
            )
    vault = Vault({state.rotation_from: old_cipher, state.rotation_to: new_cipher}, state.rotation_to)
    resealed = 0
    for collection, field in records:
        resealed += await _reseal(db, vault, collection, field, aad_for)
    await vault_collection(db).update_one(
        {"_id": INSTALL_ID, "rotation.to": state.rotation_to},
        {
            "$set": {"active": state.rotation_to},
            "$unset": {"rotation": "", f"keys.{state.rotation_from}": ""},
        },
    )
    return RotationResult(state.rotation_from, state.rotation_to, resealed)


async def _begin(
    db: AsyncDatabase[Any], state: InstallState, new: MasterSecret, kdf: ScryptParams
) -> tuple[InstallState, AESGCM | None]:
    """Record a rotation from the active key to a new key of `new`. Returns the rotation recorded, with the new key
    when it is this run's (another run that began first recorded its own key, with a salt of its own)."""
    slot, cipher = await KeySlot.new(new, kdf)
    await vault_collection(db).update_one(
        {"_id": INSTALL_ID, "active": state.active, "rotation": {"$exists": False}},
        {
            "$set": {
                f"keys.{slot.key_id}": slot.to_document(),
                "rotation": {"from": state.active, "to": slot.key_id, "started_at": datetime.now(UTC)},
            }
        },
    )
    recorded = await read_install(db)
    if recorded is None or recorded.rotation_from != state.active:
        raise KeyCustodyError("the vault changed while the rotation began; run it again", reason="CONCURRENT_CHANGE")
    return recorded, cipher if recorded.rotation_to == slot.key_id else None


async def _reseal(db: AsyncDatabase[Any], vault: Vault, collection: str, field: str, aad_for: AadFor) -> int:
    """Re-seal under the vault's key every `field` of `collection` sealed under another; the number written.
    Repeats until a pass finds none, since a write that lost its compare-and-set leaves its record for the next."""
    records = db.get_collection(collection, write_concern=DURABLE_WRITES)
    stale = {f"{field}.key_id": {"$exists": True, "$ne": vault.key_id}}
    resealed = 0
    while True:
        found = 0
        batch: list[UpdateOne] = []
        async for document in records.find(stale):
            found += 1
            batch.append(_resealed(vault, collection, field, document, aad_for))
            if len(batch) == _BATCH:
                resealed += (await records.bulk_write(batch, ordered=False)).modified_count
                batch = []
        if batch:
            resealed += (await records.bulk_write(batch, ordered=False)).modified_count
        if not found:
            return resealed


def _resealed(vault: Vault, collection: str, field: str, document: Mapping[str, Any], aad_for: AadFor) -> UpdateOne:
    """The write that re-seals one record, conditional on its field still holding the ciphertext that was read."""
    sealed = document[field]
    aad = aad_for(collection, document)
    try:
        plaintext = vault.unseal(aad, sealed)
    except SealedRecordError as error:
        raise SealedRecordError(
            f"{collection} {document['_id']!r}, field {field}: {error.message}", reason=error.reason
        ) from None
    return UpdateOne(
        {"_id": document["_id"], f"{field}.nonce": sealed["nonce"]}, {"$set": {field: vault.seal(aad, plaintext)}}
    )

"""Master-key rotation over a real Mongo-wire server: every record re-sealed under the new key, only the new secret
opens afterwards, an interrupted rotation is refused to a single secret and completed by running it again.

An interruption here is an exception raised from the `aad_for` hook after some records (deterministic); the SIGKILL
of a real rotating process is test_keys_rotation_crash.py."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from integration.keys.keys_records import (
    COLLECTION,
    FAST_KDF,
    FIELD,
    RECORDS,
    database_snapshot,
    master_secret,
    seal_wallets,
    sealing_key_ids,
    unsealed_wallets,
    wallet_secret,
)
from lucid_tron.keys import (
    VAULT_COLLECTION,
    KeyCustodyError,
    RotationUnfinished,
    SealedRecordError,
    Vault,
    WrongMasterSecret,
    collection_aad,
    record_aad,
    rotate_master_key,
)

Db = AsyncDatabase[dict[str, Any]]
OLD, NEW, OTHER = master_secret(1), master_secret(2), master_secret(3)


class Interrupted(Exception):
    pass


class InterruptAfter:
    """An `aad_for` that behaves as the default for `records` records, then raises: the rotation stops there."""

    def __init__(self, records: int) -> None:
        self.left = records

    def __call__(self, collection: str, document: Mapping[str, Any]) -> bytes:
        if self.left == 0:
            raise Interrupted
        self.left -= 1
        return collection_aad(collection, document)


async def wallets_under(db: Db, secret_generation: int, count: int) -> tuple[Vault, list[str]]:
    vault = await Vault.open(db, master_secret(secret_generation), kdf=FAST_KDF)
    return vault, await seal_wallets(db, vault, count)


async def interrupted_rotation(db: Db, count: int = 10, after: int = 4) -> list[str]:
    """`count` wallets and a rotation stopped as it reaches record `after` + 1 (re-sealed records are written in
    batches of 100, so `after` >= 100 leaves some re-sealed)."""
    _, ids = await wallets_under(db, 1, count)
    with pytest.raises(Interrupted):
        await rotate_master_key(db, OLD, NEW, RECORDS, aad_for=InterruptAfter(after), kdf=FAST_KDF)
    return ids


def test_the_aad_convention_names_the_record_kind_and_id() -> None:
    assert collection_aad("wallets", {"_id": "w-1"}) == record_aad("wallet", "w-1") == b"wallet:w-1"


async def test_rotation_reseals_every_record_under_the_new_key(mongo_db: Db) -> None:
    old_vault, ids = await wallets_under(mongo_db, 1, 20)
    result = await rotate_master_key(mongo_db, OLD, NEW, RECORDS, kdf=FAST_KDF)
    assert result.from_key_id == old_vault.key_id
    assert result.to_key_id != old_vault.key_id
    assert result.resealed == 20
    assert set((await sealing_key_ids(mongo_db)).values()) == {result.to_key_id}
    new_vault = await Vault.open(mongo_db, NEW)
    assert new_vault.key_id == result.to_key_id
    assert await unsealed_wallets(mongo_db, new_vault) == {wallet_id: wallet_secret(wallet_id) for wallet_id in ids}


async def test_after_rotation_only_the_new_secret_opens(mongo_db: Db) -> None:
    await wallets_under(mongo_db, 1, 3)
    await rotate_master_key(mongo_db, OLD, NEW, RECORDS, kdf=FAST_KDF)
    with pytest.raises(WrongMasterSecret) as raised:
        await Vault.open(mongo_db, OLD)
    assert not isinstance(raised.value, RotationUnfinished)
    install = await mongo_db[VAULT_COLLECTION].find_one({"_id": "install"})
    assert install is not None
    assert list(install["keys"]) == [install["active"]]
    assert "rotation" not in install


async def test_running_a_finished_rotation_again_does_nothing(mongo_db: Db) -> None:
    await wallets_under(mongo_db, 1, 3)
    first = await rotate_master_key(mongo_db, OLD, NEW, RECORDS, kdf=FAST_KDF)
    before = await database_snapshot(mongo_db)
    again = await rotate_master_key(mongo_db, OLD, NEW, RECORDS, kdf=FAST_KDF)
    assert (again.from_key_id, again.to_key_id, again.resealed) == (None, first.to_key_id, 0)
    assert await database_snapshot(mongo_db) == before


async def test_a_wrong_old_secret_is_refused_and_nothing_is_written(mongo_db: Db) -> None:
    await wallets_under(mongo_db, 1, 3)
    before = await database_snapshot(mongo_db)
    with pytest.raises(WrongMasterSecret, match="old master secret"):
        await rotate_master_key(mongo_db, OTHER, NEW, RECORDS, kdf=FAST_KDF)
    assert await database_snapshot(mongo_db) == before


async def test_rotating_to_the_same_secret_is_refused(mongo_db: Db) -> None:
    await wallets_under(mongo_db, 1, 1)
    before = await database_snapshot(mongo_db)
    with pytest.raises(KeyCustodyError) as raised:
        await rotate_master_key(mongo_db, OLD, master_secret(1), RECORDS, kdf=FAST_KDF)
    assert raised.value.reason == "SAME_SECRET"
    assert await database_snapshot(mongo_db) == before


async def test_a_database_without_a_vault_has_nothing_to_rotate(mongo_db: Db) -> None:
    with pytest.raises(KeyCustodyError) as raised:
        await rotate_master_key(mongo_db, OLD, NEW, RECORDS)
    assert raised.value.reason == "NO_VAULT"


async def test_an_interrupted_rotation_leaves_records_under_the_old_or_the_new_key(mongo_db: Db) -> None:
    await interrupted_rotation(mongo_db, count=150, after=120)
    install = await mongo_db[VAULT_COLLECTION].find_one({"_id": "install"})
    assert install is not None
    rotation = install["rotation"]
    assert set(install["keys"]) == {rotation["from"], rotation["to"]}
    by_key = list((await sealing_key_ids(mongo_db)).values())
    assert by_key.count(rotation["to"]) == 100
    assert by_key.count(rotation["from"]) == 50


@pytest.mark.parametrize("secret", [OLD, NEW], ids=["old", "new"])
async def test_one_secret_alone_does_not_open_an_interrupted_rotation(mongo_db: Db, secret: Any) -> None:
    await interrupted_rotation(mongo_db)
    with pytest.raises(RotationUnfinished, match="run the rotation again"):
        await Vault.open(mongo_db, secret)


async def test_an_unrelated_secret_is_wrong_not_unfinished_during_a_rotation(mongo_db: Db) -> None:
    await interrupted_rotation(mongo_db)
    with pytest.raises(WrongMasterSecret) as raised:
        await Vault.open(mongo_db, OTHER, previous=OLD)
    assert not isinstance(raised.value, RotationUnfinished)


async def test_both_secrets_open_an_interrupted_rotation_and_read_every_record(mongo_db: Db) -> None:
    ids = await interrupted_rotation(mongo_db)
    vault = await Vault.open(mongo_db, NEW, previous=OLD)
    assert len(vault.key_ids) == 2
    assert await unsealed_wallets(mongo_db, vault) == {wallet_id: wallet_secret(wallet_id) for wallet_id in ids}


async def test_running_an_interrupted_rotation_again_completes_it(mongo_db: Db) -> None:
    ids = await interrupted_rotation(mongo_db, count=150, after=120)
    result = await rotate_master_key(mongo_db, OLD, NEW, RECORDS, kdf=FAST_KDF)
    assert result.resealed == 50
    assert set((await sealing_key_ids(mongo_db)).values()) == {result.to_key_id}
    assert await unsealed_wallets(mongo_db, await Vault.open(mongo_db, NEW)) == {
        wallet_id: wallet_secret(wallet_id) for wallet_id in ids
    }


async def test_an_interrupted_rotation_cannot_be_continued_to_another_new_secret(mongo_db: Db) -> None:
    await interrupted_rotation(mongo_db)
    before = await database_snapshot(mongo_db)
    with pytest.raises(WrongMasterSecret, match="unfinished rotation"):
        await rotate_master_key(mongo_db, OLD, OTHER, RECORDS, kdf=FAST_KDF)
    assert await database_snapshot(mongo_db) == before


async def test_records_sealed_during_an_interrupted_rotation_are_under_the_new_key(mongo_db: Db) -> None:
    await interrupted_rotation(mongo_db, count=10)
    vault = await Vault.open(mongo_db, NEW, previous=OLD)
    late = await seal_wallets(mongo_db, vault, 3, first=100)
    await rotate_master_key(mongo_db, OLD, NEW, RECORDS, kdf=FAST_KDF)
    after = await unsealed_wallets(mongo_db, await Vault.open(mongo_db, NEW))
    assert len(after) == 13
    assert all(after[wallet_id] == wallet_secret(wallet_id) for wallet_id in late)


async def test_concurrent_rotations_with_the_same_secrets_agree(mongo_db: Db) -> None:
    _, ids = await wallets_under(mongo_db, 1, 30)
    results = await asyncio.gather(*(rotate_master_key(mongo_db, OLD, NEW, RECORDS, kdf=FAST_KDF) for _ in range(3)))
    assert len({result.to_key_id for result in results}) == 1
    assert await unsealed_wallets(mongo_db, await Vault.open(mongo_db, NEW)) == {
        wallet_id: wallet_secret(wallet_id) for wallet_id in ids
    }


async def test_a_record_that_does_not_authenticate_stops_the_rotation_naming_it(mongo_db: Db) -> None:
    _, (first, second, _third) = await wallets_under(mongo_db, 1, 3)
    moved = await mongo_db[COLLECTION].find_one({"_id": first})
    assert moved is not None
    await mongo_db[COLLECTION].update_one({"_id": second}, {"$set": {FIELD: moved[FIELD]}})
    with pytest.raises(SealedRecordError, match=f"wallets '{second}', field sealed_secret") as raised:
        await rotate_master_key(mongo_db, OLD, NEW, RECORDS, kdf=FAST_KDF)
    assert raised.value.reason == "NOT_AUTHENTIC"
    with pytest.raises(RotationUnfinished):
        await Vault.open(mongo_db, OLD)

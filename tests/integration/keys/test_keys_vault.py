"""The vault over a real Mongo-wire server: the install document holds no secret, a wrong secret touches nothing,
concurrent first opens agree, and a sealed record opens only unaltered, in its own record, with the right key."""

from __future__ import annotations

import asyncio
import pickle
from typing import Any

import bson
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from pymongo.asynchronous.database import AsyncDatabase

from integration.keys.keys_records import (
    COLLECTION,
    FAST_KDF,
    FIELD,
    database_snapshot,
    master_secret,
    seal_wallets,
    unsealed_wallets,
    wallet_aad,
    wallet_secret,
)
from lucid_tron.keys import (
    DEFAULT_SCRYPT,
    VAULT_COLLECTION,
    KeyCustodyError,
    SealedRecordError,
    Vault,
    WrongMasterSecret,
)

Db = AsyncDatabase[dict[str, Any]]


async def test_the_first_open_creates_an_install_document_with_salt_kdf_and_key_check(mongo_db: Db) -> None:
    vault = await Vault.open(mongo_db, master_secret(1), kdf=FAST_KDF)
    install = await mongo_db[VAULT_COLLECTION].find_one({"_id": "install"})
    assert install is not None
    assert install["active"] == vault.key_id
    slot = install["keys"][vault.key_id]
    assert len(slot["salt"]) == 16
    assert slot["kdf"] == {"name": "scrypt", "n": 2**10, "r": 8, "p": 1}
    assert set(slot["check"]) == {"v", "key_id", "nonce", "ct"}
    assert "rotation" not in install


async def test_the_install_document_contains_neither_the_secret_nor_the_key(mongo_db: Db) -> None:
    secret = master_secret(1)
    vault = await Vault.open(mongo_db, secret, kdf=FAST_KDF)
    install = await mongo_db[VAULT_COLLECTION].find_one({"_id": "install"})
    assert install is not None
    slot = install["keys"][vault.key_id]
    key = Scrypt(salt=slot["salt"], length=32, n=2**10, r=8, p=1).derive(secret.to_bytes())
    stored = bson.encode(install)
    assert secret.to_bytes() not in stored
    assert key not in stored


async def test_the_key_is_scrypt_of_the_secret_and_salt_and_seals_with_aes_gcm(mongo_db: Db) -> None:
    secret = master_secret(1)
    vault = await Vault.open(mongo_db, secret, kdf=FAST_KDF)
    install = await mongo_db[VAULT_COLLECTION].find_one({"_id": "install"})
    assert install is not None
    key = Scrypt(salt=install["keys"][vault.key_id]["salt"], length=32, n=2**10, r=8, p=1).derive(secret.to_bytes())
    sealed = vault.seal(b"wallet:w-1", b"secret")
    assert AESGCM(key).decrypt(sealed["nonce"], sealed["ct"], b"wallet:w-1") == b"secret"


async def test_a_real_install_gets_the_default_scrypt_cost(mongo_db: Db) -> None:
    vault = await Vault.open(mongo_db, master_secret(1))
    install = await mongo_db[VAULT_COLLECTION].find_one({"_id": "install"})
    assert install is not None
    expected = {"name": "scrypt", "n": 2**15, "r": 8, "p": 1}
    assert install["keys"][vault.key_id]["kdf"] == DEFAULT_SCRYPT.to_document() == expected


async def test_reopening_with_the_same_secret_reads_what_was_sealed(mongo_db: Db) -> None:
    first = await Vault.open(mongo_db, master_secret(1), kdf=FAST_KDF)
    ids = await seal_wallets(mongo_db, first, 3)
    again = await Vault.open(mongo_db, master_secret(1))
    assert again.key_id == first.key_id
    assert await unsealed_wallets(mongo_db, again) == {wallet_id: wallet_secret(wallet_id) for wallet_id in ids}


async def test_a_wrong_secret_is_refused_and_nothing_is_written(mongo_db: Db) -> None:
    vault = await Vault.open(mongo_db, master_secret(1), kdf=FAST_KDF)
    await seal_wallets(mongo_db, vault, 2)
    before = await database_snapshot(mongo_db)
    with pytest.raises(WrongMasterSecret) as raised:
        await Vault.open(mongo_db, master_secret(2))
    assert "<generation 2>" in str(raised.value)
    assert master_secret(2).to_bytes().decode() not in str(raised.value)
    assert await database_snapshot(mongo_db) == before


async def test_concurrent_first_opens_agree_on_one_install(mongo_db: Db) -> None:
    vaults = await asyncio.gather(*(Vault.open(mongo_db, master_secret(1), kdf=FAST_KDF) for _ in range(8)))
    assert len({vault.key_id for vault in vaults}) == 1
    assert await mongo_db[VAULT_COLLECTION].count_documents({}) == 1
    sealed = vaults[0].seal(b"wallet:w-1", b"secret")
    assert all(vault.unseal(b"wallet:w-1", sealed) == b"secret" for vault in vaults)


async def test_a_concurrent_first_open_with_another_secret_is_refused(mongo_db: Db) -> None:
    results = await asyncio.gather(
        *(Vault.open(mongo_db, master_secret(n % 2), kdf=FAST_KDF) for n in range(6)), return_exceptions=True
    )
    opened = [result for result in results if isinstance(result, Vault)]
    refused = [result for result in results if isinstance(result, WrongMasterSecret)]
    assert len(opened) == 3 and len(refused) == 3
    assert await mongo_db[VAULT_COLLECTION].count_documents({}) == 1


async def test_a_sealed_record_is_bson_ready_and_round_trips_through_mongodb(mongo_db: Db) -> None:
    vault = await Vault.open(mongo_db, master_secret(1), kdf=FAST_KDF)
    [wallet_id] = await seal_wallets(mongo_db, vault, 1)
    stored = await mongo_db[COLLECTION].find_one({"_id": wallet_id})
    assert stored is not None
    sealed = stored[FIELD]
    assert sealed["v"] == 1 and sealed["key_id"] == vault.key_id
    assert isinstance(sealed["nonce"], bytes) and len(sealed["nonce"]) == 12
    assert wallet_secret(wallet_id) not in sealed["ct"]
    assert vault.unseal(wallet_aad(wallet_id), sealed) == wallet_secret(wallet_id)


async def test_every_seal_uses_a_fresh_nonce(mongo_db: Db) -> None:
    vault = await Vault.open(mongo_db, master_secret(1), kdf=FAST_KDF)
    sealed = [vault.seal(b"wallet:w-1", b"same plaintext") for _ in range(50)]
    assert len({record["nonce"] for record in sealed}) == 50
    assert len({record["ct"] for record in sealed}) == 50


async def test_a_ciphertext_moved_to_another_record_does_not_open(mongo_db: Db) -> None:
    vault = await Vault.open(mongo_db, master_secret(1), kdf=FAST_KDF)
    first, second = await seal_wallets(mongo_db, vault, 2)
    # An attacker with write access to the database swaps the two sealed secrets.
    one = await mongo_db[COLLECTION].find_one({"_id": first})
    two = await mongo_db[COLLECTION].find_one({"_id": second})
    assert one is not None and two is not None
    await mongo_db[COLLECTION].update_one({"_id": first}, {"$set": {FIELD: two[FIELD]}})
    await mongo_db[COLLECTION].update_one({"_id": second}, {"$set": {FIELD: one[FIELD]}})
    for wallet_id in (first, second):
        stored = await mongo_db[COLLECTION].find_one({"_id": wallet_id})
        assert stored is not None
        with pytest.raises(SealedRecordError) as raised:
            vault.unseal(wallet_aad(wallet_id), stored[FIELD])
        assert raised.value.reason == "NOT_AUTHENTIC"


@pytest.mark.parametrize("part", ["ct", "nonce"])
async def test_a_flipped_bit_is_detected(mongo_db: Db, part: str) -> None:
    vault = await Vault.open(mongo_db, master_secret(1), kdf=FAST_KDF)
    sealed = vault.seal(b"wallet:w-1", b"secret")
    altered = bytearray(sealed[part])
    altered[0] ^= 1
    with pytest.raises(SealedRecordError, match="does not authenticate"):
        vault.unseal(b"wallet:w-1", {**sealed, part: bytes(altered)})


@pytest.mark.parametrize(
    "change",
    [
        {"v": 2},
        {"nonce": b"short"},
        {"ct": b"too short"},
        {"ct": "not bytes"},
        {"key_id": None},
    ],
)
async def test_something_that_is_not_a_sealed_record_is_refused(mongo_db: Db, change: dict[str, Any]) -> None:
    vault = await Vault.open(mongo_db, master_secret(1), kdf=FAST_KDF)
    sealed = {**vault.seal(b"wallet:w-1", b"secret"), **change}
    with pytest.raises(SealedRecordError) as raised:
        vault.unseal(b"wallet:w-1", sealed)
    assert raised.value.reason == "MALFORMED_SEALED_RECORD"


async def test_a_record_sealed_under_a_key_the_vault_does_not_hold_is_refused(mongo_db: Db) -> None:
    vault = await Vault.open(mongo_db, master_secret(1), kdf=FAST_KDF)
    sealed = {**vault.seal(b"wallet:w-1", b"secret"), "key_id": "0123456789abcdef"}
    with pytest.raises(SealedRecordError, match="0123456789abcdef") as raised:
        vault.unseal(b"wallet:w-1", sealed)
    assert raised.value.reason == "UNKNOWN_KEY"


async def test_seal_and_unseal_take_bytes_only(mongo_db: Db) -> None:
    vault = await Vault.open(mongo_db, master_secret(1), kdf=FAST_KDF)
    with pytest.raises(TypeError):
        vault.seal("wallet:w-1", b"secret")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        vault.seal(b"wallet:w-1", "secret")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        vault.unseal("wallet:w-1", vault.seal(b"wallet:w-1", b"secret"))  # type: ignore[arg-type]


async def test_the_vault_shows_key_ids_only_and_cannot_be_pickled(mongo_db: Db) -> None:
    vault = await Vault.open(mongo_db, master_secret(1), kdf=FAST_KDF)
    assert repr(vault) == f"Vault(key_id={vault.key_id!r}, key_ids=[{vault.key_id!r}])"
    with pytest.raises(TypeError):
        pickle.dumps(vault)


async def test_a_malformed_install_document_is_refused(mongo_db: Db) -> None:
    await mongo_db[VAULT_COLLECTION].insert_one({"_id": "install", "active": "k1", "keys": {}})
    with pytest.raises(KeyCustodyError) as raised:
        await Vault.open(mongo_db, master_secret(1))
    assert raised.value.reason == "MALFORMED_VAULT"


async def test_a_stored_kdf_cost_beyond_the_bounds_is_refused_before_deriving(mongo_db: Db) -> None:
    vault = await Vault.open(mongo_db, master_secret(1), kdf=FAST_KDF)
    # Someone with write access to the database asks for 128 GiB of scrypt memory.
    await mongo_db[VAULT_COLLECTION].update_one(
        {"_id": "install"}, {"$set": {f"keys.{vault.key_id}.kdf.n": 2**30}}
    )
    with pytest.raises(KeyCustodyError) as raised:
        await Vault.open(mongo_db, master_secret(1))
    assert raised.value.reason == "BAD_KDF"

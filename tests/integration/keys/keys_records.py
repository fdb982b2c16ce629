"""Wallet-like records for the vault tests: documents of `wallets` whose `sealed_secret` is sealed with the record's
identity as associated data, as wallet-manager stores them."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from lucid_tron.keys import MasterSecret, ScryptParams, Vault, record_aad

#: scrypt at n=2**10 (~1 ms): these tests are about what is stored and read, not about the KDF's cost, which the
#: vault reads from the install document (one test checks the default is what a real install gets).
FAST_KDF = ScryptParams(n=2**10, r=8, p=1)
COLLECTION = "wallets"
FIELD = "sealed_secret"
RECORDS = [(COLLECTION, FIELD)]


def master_secret(generation: int) -> MasterSecret:
    """A distinct master secret per generation, as successive rotations would use."""
    return MasterSecret(f"master secret of generation {generation:04d}".encode(), source=f"<generation {generation}>")


def wallet_secret(wallet_id: str) -> bytes:
    return f"key material of {wallet_id}".encode()


def wallet_aad(wallet_id: str) -> bytes:
    return record_aad("wallet", wallet_id)


async def seal_wallets(db: AsyncDatabase[Any], vault: Vault, count: int, *, first: int = 0) -> list[str]:
    """`count` wallets w-<n>, each with its own secret sealed under `vault`; their ids."""
    ids = [f"w-{n:04d}" for n in range(first, first + count)]
    await db[COLLECTION].insert_many(
        [{"_id": wallet_id, FIELD: vault.seal(wallet_aad(wallet_id), wallet_secret(wallet_id))} for wallet_id in ids]
    )
    return ids


async def unsealed_wallets(db: AsyncDatabase[Any], vault: Vault) -> dict[str, bytes]:
    """Every wallet's secret as `vault` unseals it (SealedRecordError for one it cannot)."""
    return {
        document["_id"]: vault.unseal(wallet_aad(document["_id"]), document[FIELD])
        async for document in db[COLLECTION].find()
    }


async def sealing_key_ids(db: AsyncDatabase[Any]) -> dict[str, str]:
    """The key id each wallet's secret is sealed under."""
    return {document["_id"]: document[FIELD]["key_id"] async for document in db[COLLECTION].find()}


async def database_snapshot(db: AsyncDatabase[Any]) -> dict[str, list[dict[str, Any]]]:
    """Every document of every collection, to show that something wrote nothing."""
    return {
        name: await db[name].find().sort("_id").to_list()
        for name in sorted(await db.list_collection_names())
    }

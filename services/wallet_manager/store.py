"""wallet-manager's MongoDB: wallets (their sealed secrets included), derived addresses, the spend counted per UTC
day, the signatures given, idempotency keys and the audit log.

Collections (all written with DURABLE_WRITES):
    wallets         one document per wallet; `sealed_secret` is the key custody vault's ciphertext (AAD
                    b"wallet:" + wallet_id), absent for watch-only wallets; `address_count` is the next free index
    addresses       one per derived address: _id "<wallet_id>/<index>", the base58 `address` indexed
    spend_days      one per (wallet, asset, UTC day): `spent` and the txids counted, updated in one atomic operation
    signatures      one per signed txid: the signature and the wallet that gave it
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from lucid_tron.storage import AuditLog, MoneyStore

Document = dict[str, Any]

WALLETS = "wallets"
ADDRESSES = "addresses"
SPEND_DAYS = "spend_days"
SIGNATURES = "signatures"



class SpendOutcome:
    """What counting a transaction against a daily cap did."""

    COUNTED = "counted"
    ALREADY_COUNTED = "already_counted"
    OVER_CAP = "over_cap"


class WalletManagerStore(MoneyStore):
    """Wallets, addresses, daily spend, signatures; plus MoneyStore's idempotency keys and audit log."""

    service = "wallet-manager"
    indexes = {
        **MoneyStore.indexes,
        WALLETS: [IndexModel([("created_at", ASCENDING), ("_id", ASCENDING)], name="oldest_first")],
        ADDRESSES: [
            IndexModel([("wallet_id", ASCENDING), ("index", ASCENDING)], name="wallet_index"),
            IndexModel("address", name="address"),
        ],
    }

    # -- wallets ----------------------------------------------------------------------------------------------------

    async def insert_wallet(self, wallet: Document) -> bool:
        """Insert a new wallet; False when one with its _id exists already (a retried create)."""
        with self.bounded():
            try:
                await self.collection(WALLETS, durable=True).insert_one(wallet)
            except DuplicateKeyError:
                return False
        return True

    async def wallet(self, wallet_id: str) -> Document | None:
        with self.bounded():
            return await self.collection(WALLETS).find_one({"_id": wallet_id})

    async def wallets_page(self, after: tuple[datetime, str] | None, limit: int) -> list[Document]:
        """Wallets oldest first, after the (created_at, _id) of the last one seen; without sealed secrets."""
        query: Document = {}
        if after is not None:
            created_at, wallet_id = after
            query = {"$or": [{"created_at": {"$gt": created_at}}, {"created_at": created_at, "_id": {"$gt": wallet_id}}]}
        with self.bounded():
            cursor = (
                self.collection(WALLETS)
                .find(query, projection={"sealed_secret": False})
                .sort([("created_at", ASCENDING), ("_id", ASCENDING)])
                .limit(limit)
            )
            return await cursor.to_list()

    async def update_wallet(self, wallet_id: str, etag: str | None, changes: Mapping[str, Any]) -> Document | None:
        """Set `changes` (new etag and update time included) if the wallet still has `etag` (any etag when None);
        the updated wallet, or None when it does not match."""
        query: Document = {"_id": wallet_id}
        if etag is not None:
            query["etag"] = etag
        with self.bounded():
            return await self.collection(WALLETS, durable=True).find_one_and_update(
                query, {"$set": dict(changes)}, return_document=ReturnDocument.AFTER
            )

    async def all_sealed_secrets(self) -> list[Document]:
        with self.bounded():
            return await self.collection(WALLETS).find({"sealed_secret": {"$exists": True}}).to_list()

    # -- addresses --------------------------------------------------------------------------------------------------

    async def claim_next_index(self, wallet_id: str, kind: str, count: int) -> Document | None:
        """Take the next `count` free indexes of a wallet of `kind` in one atomic increment, so concurrent
        derivations never share one: the wallet as it is after the increment (the indexes end before
        `address_count`), None for an unknown wallet or one of another kind."""
        # The document after the increment: SecantusDB (the tests' server) answers concurrent increments with stale
        # pre-images when asked for the document before, while the post-images are exact.
        with self.bounded():
            return await self.collection(WALLETS, durable=True).find_one_and_update(
                {"_id": wallet_id, "kind": kind},
                {"$inc": {"address_count": count}},
                return_document=ReturnDocument.AFTER,
            )

    async def reserve_index(self, wallet_id: str, index: int) -> None:
        """Make the next free index pass `index`, so next-index derivation never lands on an index chosen by hand."""
        with self.bounded():
            await self.collection(WALLETS, durable=True).update_one(
                {"_id": wallet_id}, {"$max": {"address_count": index + 1}}
            )

    async def insert_address(self, address: Document) -> Document:
        """Record a derived address (its _id is "<wallet_id>/<index>"); the one recorded before when that index
        was derived already (addresses are never deleted, so the read finds it)."""
        with self.bounded():
            try:
                await self.collection(ADDRESSES, durable=True).insert_one(address)
                return address
            except DuplicateKeyError:
                return await self.collection(ADDRESSES).find_one({"_id": address["_id"]}) or address

    async def insert_addresses(self, addresses: list[Document]) -> None:
        """Record addresses derived at freshly claimed indexes (none of them recorded before)."""
        with self.bounded():
            await self.collection(ADDRESSES, durable=True).insert_many(addresses)

    async def wallet_address(self, wallet_id: str, address: str) -> Document | None:
        """The record of `address` if it was derived from `wallet_id`."""
        with self.bounded():
            return await self.collection(ADDRESSES).find_one({"wallet_id": wallet_id, "address": address})

    async def addresses_page(self, wallet_id: str, after_index: int, limit: int) -> list[Document]:
        with self.bounded():
            cursor = (
                self.collection(ADDRESSES)
                .find({"wallet_id": wallet_id, "index": {"$gt": after_index}})
                .sort("index", ASCENDING)
                .limit(limit)
            )
            return await cursor.to_list()

    # -- spend and signatures ---------------------------------------------------------------------------------------

    async def count_spend(self, day_key: str, txid: str, amount: int, cap: int) -> tuple[str, int]:
        """Add `amount` to the day's total unless that passes `cap` or `txid` was counted already, in one atomic
        update of one document: concurrent signatures never overshoot the cap and a retried one counts once.

        Returns (outcome, the day's total after it)."""
        days = self.collection(SPEND_DAYS, durable=True)
        with self.bounded():
            while True:
                try:
                    after = await days.find_one_and_update(
                        {"_id": day_key, "txids": {"$ne": txid}, "spent": {"$lte": cap - amount}},
                        {"$inc": {"spent": amount}, "$push": {"txids": txid}},
                        upsert=True,
                        projection={"spent": True},
                        return_document=ReturnDocument.AFTER,
                    )
                    # SecantusDB has been seen to answer an upsert without its document: read what happened.
                    if after is not None:
                        return SpendOutcome.COUNTED, int(after["spent"])
                except DuplicateKeyError:
                    pass  # the day exists and the filter did not match it (or a concurrent upsert created it)
                day = await days.find_one({"_id": day_key, "txids": txid}, projection={"spent": True})
                if day is not None:
                    return SpendOutcome.ALREADY_COUNTED, int(day["spent"])
                day = await days.find_one({"_id": day_key}, projection={"spent": True})
                if day is None:
                    continue
                if int(day["spent"]) > cap - amount:
                    return SpendOutcome.OVER_CAP, int(day["spent"])

    async def record_signature(self, signature: Document) -> bool:
        """Keep a signature given; False when the txid was signed before (the same signature: it is deterministic)."""
        with self.bounded():
            try:
                await self.collection(SIGNATURES, durable=True).insert_one(signature)
            except DuplicateKeyError:
                return False
        return True

    # -- audit ------------------------------------------------------------------------------------------------------

    async def audit_page(self, after_seq: int, limit: int) -> list[Document]:
        with self.bounded():
            cursor = (
                self.db.get_collection(AuditLog.COLLECTION)
                .find({"_id": {"$gt": after_seq}})
                .sort("_id", ASCENDING)
                .limit(limit)
            )
            return await cursor.to_list()

    async def audit_length(self) -> int:
        with self.bounded():
            last = await self.db.get_collection(AuditLog.COLLECTION).find_one(sort=[("_id", DESCENDING)])
        return 0 if last is None else int(last["_id"])

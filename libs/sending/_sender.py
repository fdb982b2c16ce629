"""The sending flow behind `lucid_tron.sending` (see the package docstring)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from lucid.tron.v1 import common_pb2, tron_client_pb2, wallet_pb2
from lucid_tron.chain import build_transaction, protocol, txid
from lucid_tron.context import principal
from lucid_tron.errors import Aborted, FailedPrecondition, InvalidArgument, NotFound
from lucid_tron.peers import TronClientService, WalletService
from lucid_tron.storage import IDEMPOTENCY_KEY_REUSED, MoneyStore, utc_now

__all__ = ["BROADCAST", "SIGNED", "TRANSACTION_EXPIRED", "TXID_COLLISION", "Order", "Sender", "SentTransactions"]

Document = dict[str, Any]

SIGNED = "SIGNED"
BROADCAST = "BROADCAST"
TRANSACTION_EXPIRED = "TRANSACTION_EXPIRED"
TXID_COLLISION = "TXID_COLLISION"
#: Builds tried when the transaction built is one another request already stored (another replica built the same
#: transaction in the same millisecond): each build takes a later timestamp.
_BUILD_ATTEMPTS = 3


@dataclass(frozen=True)
class Order:
    """One write request: `method` and `request_id` name it, `request_hash` is its content (the idempotency
    digest), `wallet_id` signs, `reference` goes to wallet-manager's audit log."""

    method: str
    request_id: str
    request_hash: str
    wallet_id: str
    reference: str = ""


class SentTransactions:
    """The collection of signed transactions of a MoneyStore: _id the txid; the exact raw_data and signature, so a
    retry broadcasts the same bytes; `request` {method, request_id} unique, so one request never signs twice."""

    COLLECTION: ClassVar[str] = "transactions"
    INDEXES: ClassVar[Mapping[str, list[IndexModel]]] = {
        COLLECTION: [
            IndexModel([("request.method", ASCENDING), ("request.request_id", ASCENDING)], unique=True, name="request")
        ]
    }

    def __init__(self, store: MoneyStore) -> None:
        self._store = store

    async def insert(self, document: Document) -> Document | None:
        """Store a signed transaction before it is broadcast. When its request already has one (a concurrent retry
        won the race), that one is returned and this one is dropped unsent; None when another request already
        stored this very transaction (same txid): build it anew."""
        with self._store.bounded():
            try:
                await self._store.collection(self.COLLECTION, durable=True).insert_one(document)
            except DuplicateKeyError:
                return await self.for_request(document["request"]["method"], document["request"]["request_id"])
        return document

    async def for_request(self, method: str, request_id: str) -> Document | None:
        with self._store.bounded():
            return await self._store.collection(self.COLLECTION).find_one(
                {"request.method": method, "request.request_id": request_id}
            )

    async def get(self, txid_hex: str) -> Document | None:
        with self._store.bounded():
            return await self._store.collection(self.COLLECTION).find_one({"_id": txid_hex})

    async def set_state(self, txid_hex: str, state: str, **fields: Any) -> None:
        """Record where the transaction stands (and, for the caller's own states, what the receipt said)."""
        with self._store.bounded():
            await self._store.collection(self.COLLECTION, durable=True).update_one(
                {"_id": txid_hex}, {"$set": {"state": state, **fields}}
            )


class Sender:
    """Builds, signs, stores and broadcasts transactions for a MoneyStore whose indexes include
    SentTransactions.INDEXES; each signature is recorded in the store's audit log with the caller's principal."""

    def __init__(
        self, store: MoneyStore, *, tron_client: TronClientService, wallet_manager: WalletService, lifetime_s: float
    ) -> None:
        self._store = store
        self.transactions = SentTransactions(store)
        self._tron_client = tron_client
        self._wallet_manager = wallet_manager
        self._lifetime_ms = int(lifetime_s * 1000)
        self._last_timestamp_ms = 0
        # The audit log admits one successor per entry: appends from this process go one at a time.
        self._auditing = asyncio.Lock()

    async def stored(self, order: Order) -> Document | None:
        """The transaction this request already signed, or None. The same request_id with other content is
        INVALID_ARGUMENT (IDEMPOTENCY_KEY_REUSED): the idempotency key is forgotten after a day, this never is."""
        stored = await self.transactions.for_request(order.method, order.request_id)
        if stored is not None and stored["request"]["hash"] != order.request_hash:
            raise InvalidArgument.field(
                "request_id",
                "already used for a different request; use a new request_id for a new request",
                reason=IDEMPOTENCY_KEY_REUSED,
            )
        return stored

    async def sign_and_store(
        self,
        order: Order,
        contract: protocol.Transaction.Contract,
        intent: wallet_pb2.TransactionIntent,
        details: Mapping[str, Any],
        *,
        fee_limit_sun: int = 0,
    ) -> Document:
        """Build `contract` into a transaction, have wallet-manager sign it against `intent`, store it with
        `details` (JSON values, also audited); a concurrent twin that stored first wins and is returned."""
        for _ in range(_BUILD_ATTEMPTS):
            stored = await self._sign_and_store_once(order, contract, intent, details, fee_limit_sun)
            if stored is not None:
                return stored
        raise Aborted(
            "every transaction built for this request was already stored for another one; retry",
            reason=TXID_COLLISION,
            retry_after_s=0.1,
        )

    async def _sign_and_store_once(
        self,
        order: Order,
        contract: protocol.Transaction.Contract,
        intent: wallet_pb2.TransactionIntent,
        details: Mapping[str, Any],
        fee_limit_sun: int,
    ) -> Document | None:
        raw_data, expiration_ms = await self._build(contract, fee_limit_sun)
        built_txid = txid(raw_data).hex()
        signed = await self._wallet_manager.rpc.SignTransaction(
            wallet_pb2.SignTransactionRequest(
                wallet_id=order.wallet_id, raw_data=raw_data, intent=intent, txid=built_txid, reference=order.reference
            )
        )
        document: Document = {
            "_id": built_txid,
            "request": {"method": order.method, "request_id": order.request_id, "hash": order.request_hash},
            "kind": order.method,
            "wallet_id": order.wallet_id,
            **details,
            "expiration_ms": expiration_ms,
            "raw_data": raw_data,
            "signature": signed.signature,
            "state": SIGNED,
            "created_at": utc_now(),
        }
        stored = await self.transactions.insert(document)
        if stored is not None and stored["_id"] == built_txid:
            async with self._auditing:
                await self._store.audit_log.append(
                    principal() or "",
                    "transaction.sign",
                    {"txid": built_txid, "method": order.method, "request_id": order.request_id,
                     "reference": order.reference, "wallet_id": order.wallet_id, **details},
                )
        return stored

    async def _build(self, contract: protocol.Transaction.Contract, fee_limit_sun: int) -> tuple[bytes, int]:
        """raw_data referencing the newest solidified block (one a reorganisation cannot take away), expiring after
        the lifetime; and its expiration."""
        block = (
            await self._tron_client.rpc.GetNowBlock(
                tron_client_pb2.GetNowBlockRequest(finality=common_pb2.FINALITY_SOLIDIFIED)
            )
        ).block
        # Two equal requests built in the same millisecond on the same reference block would be one transaction:
        # a timestamp that never repeats in this process keeps them apart (another replica's twin is caught when
        # it is stored).
        now_ms = self._last_timestamp_ms = max(int(time.time() * 1000), self._last_timestamp_ms + 1)
        expiration_ms = now_ms + self._lifetime_ms
        transaction = build_transaction(
            contract,
            ref_block_number=block.number,
            ref_block_id=block.block_id,
            expiration_ms=expiration_ms,
            timestamp_ms=now_ms,
            fee_limit_sun=fee_limit_sun,
        )
        return transaction.raw_data.SerializeToString(deterministic=True), expiration_ms

    async def broadcast(self, stored: Document) -> Document:
        """Send the stored bytes unless a node already took them; the document as it stands after. A transaction
        that expired before any broadcast went through and has no receipt is FAILED_PRECONDITION
        (TRANSACTION_EXPIRED): nothing moved."""
        if stored["state"] != SIGNED:
            return stored
        try:
            await self._tron_client.rpc.BroadcastTransaction(
                tron_client_pb2.BroadcastTransactionRequest(
                    raw_data=stored["raw_data"], signatures=[stored["signature"]], txid=stored["_id"]
                )
            )
        except FailedPrecondition as refused:
            if refused.reason != TRANSACTION_EXPIRED:
                raise
            # Expired before any broadcast we know of went through; a node may still have taken it: only a
            # receipt says so.
            if not await self._included(stored["_id"]):
                raise FailedPrecondition(
                    f"transaction {stored['_id']} expired before it could be broadcast and nothing moved; "
                    "send again with a new request_id",
                    reason=TRANSACTION_EXPIRED,
                    subject=stored["_id"],
                ) from None
        await self.transactions.set_state(stored["_id"], BROADCAST)
        return {**stored, "state": BROADCAST}

    async def _included(self, txid_hex: str) -> bool:
        try:
            await self._tron_client.rpc.GetTransactionInfo(
                tron_client_pb2.GetTransactionInfoRequest(txid=txid_hex, finality=common_pb2.FINALITY_HEAD)
            )
        except NotFound:
            return False
        return True

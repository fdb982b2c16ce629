"""Invoices: created with a fresh deposit address from wallet-manager, changed only through `states`, every change
committed with its event and then announced on Redis.

Plain async Python, no grpc: the servicer adapts it to lucid.tron.v1.PaymentGatewayService, and it raises
`lucid_tron.errors` for the mesh to map.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from bson import ObjectId
from google.protobuf.message import Message
from pymongo.errors import DuplicateKeyError

from lucid.tron.v1 import wallet_pb2
from lucid_tron.errors import Aborted, FailedPrecondition, NotFound
from lucid_tron.storage import IdempotencyKeys, embedded_key, embedded_replay, utc_now

from . import events, states
from .deposit_addresses import DepositAddress, DepositAddresses
from .store import ETAG_MISMATCH, Fence, PaymentGatewayStore, new_etag

if TYPE_CHECKING:
    from lucid_tron.peers import RelayService, TronClientService, WalletService
    from redis.asyncio import Redis

#: How often a WatchInvoice stream reads MongoDB even without a Redis message, so a lost message delays, never loses.
WATCH_POLL_S = 1.0
EVENT_PAGE = 100

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class NewInvoice:
    """A checked CreateInvoice request."""

    asset: str
    amount: int
    expire_at: datetime
    monitoring_window_s: int
    tolerance_bps: int
    order_id: str
    metadata: Mapping[str, str]
    description: str


class Invoices:
    """payment-gateway's domain, on its MongoDB store, wallet-manager (deposit addresses), Redis (event
    announcements, never the only copy) and, for the chain watcher, tron-client and tron-relay."""

    def __init__(
        self,
        store: PaymentGatewayStore,
        *,
        tron_client: TronClientService,
        tron_relay: RelayService,
        wallet_manager: WalletService,
        redis: Redis,
        usdt_contract: str,
        payment_wallet_id: str,
        address_batch: int,
        network: str,
    ) -> None:
        self.store = store
        self.tron_client = tron_client
        self.tron_relay = tron_relay
        self.wallet_manager = wallet_manager
        self.redis = redis
        self.usdt_contract = usdt_contract
        self.payment_wallet_id = payment_wallet_id
        self.network = network
        self.deposit_addresses = DepositAddresses(self._derive_addresses, address_batch)

    @property
    def _keys(self) -> IdempotencyKeys:
        return self.store.idempotency_keys

    async def create(
        self,
        request_id: str,
        request: Message,
        new: NewInvoice,
        respond: Callable[[Mapping[str, Any]], M],
        response_type: type[M],
    ) -> M:
        """The response (`respond(invoice)`) of CreateInvoice, run once per request_id: the invoice (holding the
        idempotency key and the response), its first event and its outbox event commit together, in one round trip.

        Claim-free: the key is in the invoice, so a retry after the commit gets the stored response, and a crash
        before it leaves nothing. The deposit address comes from the pool, derived ahead of need; it goes back when
        the key turns out to be taken, since then no one saw it."""
        if not self.payment_wallet_id:
            raise FailedPrecondition(
                "no payment wallet is configured (PAYMENT_WALLET_ID): deposit addresses cannot be derived",
                reason="PAYMENT_WALLET_UNSET",
            )
        with self._keys.creating("CreateInvoice", request_id, request):
            deposit = await self.deposit_addresses.take()
            now = utc_now()
            invoice_id = f"inv_{ObjectId()}"
            invoice = {
                "_id": invoice_id,
                "status": states.PENDING,
                "exception": states.NONE,
                "asset": new.asset,
                "amount": new.amount,
                # What pays it: Transfer logs of this contract, or "" for top-level TRX transfers. The watcher and
                # reconciliation match transfers by it.
                "token_contract": self.usdt_contract if new.asset == "USDT" else "",
                "network": self.network,
                "deposit_address": deposit.address,
                "address_index": deposit.index,
                "expire_at": new.expire_at,
                "monitoring_window_s": new.monitoring_window_s,
                "tolerance_bps": new.tolerance_bps,
                "order_id": new.order_id,
                "metadata": dict(new.metadata),
                "description": new.description,
                "paid": 0,
                "pending": 0,
                "payments": [],
                "sequence": 1,
                "etag": new_etag(),
                "created_at": now,
                "updated_at": now,
            }
            event = events.document(invoice_id, 1, events.INVOICE_CREATED, "created", now, events.snapshot(invoice))
            response = respond(invoice)
            try:
                await self.store.create_invoice({**invoice, **embedded_key(request_id, request, response)}, event)
            except DuplicateKeyError as error:
                if "request_id" not in (error.details or {}).get("keyPattern", {}):
                    raise
                self.deposit_addresses.give_back(deposit)
                first = await self.store.invoice_by_request(request_id)
                return response_type.FromString(embedded_replay(first, request))
        await events.publish(self.redis, event)
        return response

    async def _derive_addresses(self, count: int) -> list[DepositAddress]:
        derived = await self.wallet_manager.rpc.DeriveAddresses(
            wallet_pb2.DeriveAddressesRequest(wallet_id=self.payment_wallet_id, count=count, label="invoice")
        )
        return [DepositAddress(address.address, address.index) for address in derived.addresses]

    async def get(self, invoice_id: str) -> dict[str, Any]:
        invoice = await self.store.invoice(invoice_id)
        if invoice is None:
            raise NotFound("invoice", invoice_id)
        return invoice

    async def list_page(
        self, query: Mapping[str, Any], page_size: int, after_id: str | None
    ) -> tuple[list[dict[str, Any]], str]:
        """One page, newest first, and the id to continue after ("" on the last page)."""
        if after_id:
            query = {**query, "_id": {"$lt": after_id}}
        page = await self.store.list_invoices(query, page_size + 1)
        if len(page) > page_size:
            return page[:page_size], page[page_size - 1]["_id"]
        return page, ""

    async def cancel(self, invoice_id: str, reason: str) -> dict[str, Any]:
        invoice = await self.get(invoice_id)
        transition = states.cancel(invoice, reason)
        if transition is None:
            return invoice
        return await self._commit(invoice, transition)

    async def mark(self, invoice_id: str, status: str, reason: str, etag: str | None) -> dict[str, Any]:
        invoice = await self.get(invoice_id)
        if etag is not None and invoice["etag"] != etag:
            raise Aborted("the invoice changed since it was read (etag mismatch); read it again", reason=ETAG_MISMATCH)
        return await self._commit(invoice, states.mark(invoice, status, reason))

    async def expire_due(self, now: datetime, limit: int = 500) -> int:
        """Expire every PENDING invoice past its expiry (up to `limit`); how many were expired."""
        expired = 0
        for invoice in await self.store.due_to_expire(now, limit):
            transition = states.expire(invoice, now)
            if transition is None:
                continue
            try:
                await self._commit(invoice, transition)
            except Aborted:
                continue  # changed meanwhile (a payment seen, a cancel): the next round decides again
            expired += 1
        return expired

    async def list_events(self, invoice_id: str, after: int, limit: int) -> list[dict[str, Any]]:
        await self.get(invoice_id)
        return await self.store.events_after(invoice_id, after, limit)

    async def watch(self, invoice_id: str, after: int) -> AsyncIterator[dict[str, Any]]:
        """The invoice, then each of its events after `after` in sequence order, without end. Redis wakes the
        stream at once; without it, MongoDB is read every WATCH_POLL_S, so no event is ever skipped."""
        pubsub = self.redis.pubsub()
        try:
            try:
                await pubsub.subscribe(events.invoice_channel(invoice_id))
            except Exception:
                pubsub = None
            yield await self.get(invoice_id)
            while True:
                for event in await self.store.events_after(invoice_id, after, EVENT_PAGE):
                    after = event["sequence"]
                    yield event
                await _next_message(pubsub)
        finally:
            if pubsub is not None:
                await pubsub.aclose()

    async def commit_fenced(
        self, invoice: Mapping[str, Any], transition: states.Transition, fence: Fence
    ) -> dict[str, Any]:
        """Commit a transition a lease-holding job decided (the chain watcher), only while its lease holds."""
        return await self._commit(invoice, transition, fence=fence)

    async def _commit(
        self, invoice: Mapping[str, Any], transition: states.Transition, *, fence: Fence | None = None
    ) -> dict[str, Any]:
        updated, event = await self.store.apply(
            dict(invoice), transition.changes, transition.event_type, transition.reason, transition.data, fence=fence
        )
        await events.publish(self.redis, event)
        return updated


async def _next_message(pubsub: Any) -> None:
    if pubsub is None:
        await asyncio.sleep(WATCH_POLL_S)
        return
    try:
        await pubsub.get_message(ignore_subscribe_messages=True, timeout=WATCH_POLL_S)
    except Exception:
        await asyncio.sleep(WATCH_POLL_S)

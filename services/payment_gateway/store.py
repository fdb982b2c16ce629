"""payment-gateway's MongoDB: invoices, their events (committed with each change), idempotency keys of
CreateInvoice, reconciliation runs, the jobs' leases, and the outbox and audit log of the money-job store."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from lucid_tron.errors import Aborted
from lucid_tron.storage import Insert, MoneyJobStore, Update, Write, in_transaction, utc_now, write_together
from lucid_tron.webhooks import WebhookStore, event_payload

from . import events

Document = dict[str, Any]
INVOICES = "invoices"
EVENTS = "invoice_events"
RUNS = "reconciliation_runs"
ETAG_MISMATCH = "ETAG_MISMATCH"
#: What reconciliation ranks invoices by (invoices_to_reconcile): its candidates are read with these fields only.
RECONCILE_FIELDS = ("_id", "status", "created_at", "updated_at", "expire_at", "monitoring_window_s", "reconciled_at")
#: Runs a transaction's `work(session)` so that it commits only while a job's lease holds (`Leases.fenced`).
Fence = Callable[[Callable[[AsyncClientSession], Awaitable[Any]]], Awaitable[Any]]



def new_etag() -> str:
    return secrets.token_hex(8)


class PaymentGatewayStore(MoneyJobStore):
    """Invoices by id (newest first for listing, filterable by status, order id, asset, creation time), their
    events by (invoice_id, sequence), and reconciliation runs by id (newest first)."""

    service = "payment-gateway"
    indexes: ClassVar[Mapping[str, Sequence[IndexModel]]] = {
        **MoneyJobStore.indexes,
        **WebhookStore.INDEXES,
        INVOICES: [
            # CreateInvoice's idempotency key, kept in the invoice (`embedded_key`); invoices created before it was
            # there have none.
            IndexModel("request_id", unique=True, name="request_id",
                       partialFilterExpression={"request_id": {"$type": "string"}}),
            IndexModel([("order_id", ASCENDING), ("_id", DESCENDING)], name="order_id"),
            IndexModel([("status", ASCENDING), ("_id", DESCENDING)], name="status"),
            IndexModel([("status", ASCENDING), ("expire_at", ASCENDING)], name="due_to_expire"),
            IndexModel([("created_at", DESCENDING)], name="created_at"),
            # Reconciliation's $or reads by status, by last change and by expiry: each branch needs its own index.
            IndexModel([("updated_at", DESCENDING)], name="updated_at"),
            IndexModel([("expire_at", ASCENDING)], name="expire_at"),
        ],
        EVENTS: [IndexModel([("invoice_id", ASCENDING), ("sequence", ASCENDING)], unique=True, name="sequence")],
        RUNS: [],
    }

    async def create_invoice(self, invoice: Document, event: Document) -> None:
        """The invoice (with its idempotency key, `embedded_key`) and its first event, in one transaction and one
        round trip: all or nothing. Raises DuplicateKeyError when the request_id is taken."""

        async def work(session: AsyncClientSession) -> None:
            await write_together(self.db, session, [Insert(INVOICES, invoice), *self._recorded(event)])

        with self.bounded():
            await in_transaction(self.db.client, work)

    async def invoice_by_request(self, request_id: str) -> Document | None:
        with self.bounded():
            return await self.collection(INVOICES).find_one({"request_id": request_id})

    async def invoice(self, invoice_id: str) -> Document | None:
        with self.bounded():
            return await self.collection(INVOICES).find_one({"_id": invoice_id})

    async def apply(
        self, invoice: Document, changes: Mapping[str, Any], event_type: str, reason: str, data: Mapping[str, Any],
        *, fence: Fence | None = None,
    ) -> tuple[Document, Document]:
        """Commit `changes` to the invoice as read (its `sequence` unchanged since) with the next event: the invoice
        and the event. Aborted when the invoice changed in between (the caller reads again and decides again).
        `fence` (a job's `Leases.fenced` with its lease) runs the transaction instead, so that it commits only while
        the job's lease holds."""
        now = utc_now()
        sequence = invoice["sequence"] + 1
        updated = {**invoice, **changes, "sequence": sequence, "etag": new_etag(), "updated_at": now}
        event = events.document(
            invoice["_id"], sequence, event_type, reason, now, {**events.snapshot(updated), **data}
        )

        async def work(session: AsyncClientSession) -> None:
            matched, *_ = await write_together(self.db, session, [
                Update(INVOICES, {"_id": invoice["_id"], "sequence": invoice["sequence"]},
                       {"$set": {**changes, "sequence": sequence, "etag": updated["etag"], "updated_at": now}}),
                *self._recorded(event),
            ])
            if matched == 0:
                raise Aborted("the invoice changed concurrently; read it again", reason=ETAG_MISMATCH)

        try:
            with self.bounded():
                await (fence(work) if fence is not None else in_transaction(self.db.client, work))
        except DuplicateKeyError as error:
            raise Aborted("the invoice changed concurrently; read it again", reason=ETAG_MISMATCH) from error
        return updated, event

    def _recorded(self, event: Document) -> list[Write]:
        """The event's writes: into the invoice's events, and into the outbox, from where webhooks are sent
        (endpoints and deliveries live in this database too, WebhookStore.INDEXES) with the event's id as
        webhook-id. Numbered by the invoice's own sequence (gap-free: every step of it is a conditional write with
        this event), not the outbox's counter."""
        subject = events.subject(event["invoice_id"])
        data = {"subject": subject, "sequence": event["sequence"], "reason": event["reason"], **event["data"]}
        payload = event_payload(event["_id"], event["time"], data)
        return [Insert(EVENTS, event), self.outbox.emit_write(subject, event["type"], payload, seq=event["sequence"])]

    async def list_invoices(self, query: Mapping[str, Any], limit: int) -> list[Document]:
        with self.bounded():
            cursor = self.collection(INVOICES).find(query).sort("_id", DESCENDING).limit(limit)
            return await cursor.to_list()

    async def events_after(self, invoice_id: str, after: int, limit: int) -> list[Document]:
        with self.bounded():
            cursor = self.collection(EVENTS).find({"invoice_id": invoice_id, "sequence": {"$gt": after}})
            return await cursor.sort("sequence", ASCENDING).limit(limit).to_list()

    async def due_to_expire(self, now: datetime, limit: int) -> list[Document]:
        with self.bounded():
            cursor = self.collection(INVOICES).find({"status": "PENDING", "expire_at": {"$lte": now}})
            return await cursor.limit(limit).to_list()

    async def invoices_to_reconcile(
        self, open_statuses: Sequence[str], changed_since: datetime, expiring_since: datetime, limit: int,
        *, whole: bool = False,
    ) -> list[Document]:
        """Invoices in `open_statuses`, changed since `changed_since`, or expiring since `expiring_since` (an expired
        invoice stays payable for its monitoring window without changing), newest first: unless `whole`, only the
        fields that decide whether and when a run reads one (RECONCILE_FIELDS), so ranking thousands stays cheap."""
        query = {"$or": [
            {"status": {"$in": list(open_statuses)}},
            {"updated_at": {"$gte": changed_since}},
            {"expire_at": {"$gte": expiring_since}},
        ]}
        with self.bounded():
            cursor = self.collection(INVOICES).find(query, None if whole else dict.fromkeys(RECONCILE_FIELDS, 1))
            return await cursor.sort("_id", DESCENDING).limit(limit).to_list()

    async def stamp_reconciled(self, invoice_id: str, at: datetime) -> None:
        """Record when reconciliation last read the invoice. Not a change of the invoice: no event, and neither
        `sequence` nor `updated_at` moves, so a watcher's conditional commit is not disturbed."""
        with self.bounded():
            await self.collection(INVOICES).update_one({"_id": invoice_id}, {"$set": {"reconciled_at": at}})

    async def save_run(self, run: Document) -> None:
        """Insert or replace a reconciliation run (written when it starts and again when it ends)."""
        with self.bounded():
            await self.collection(RUNS, durable=True).replace_one({"_id": run["_id"]}, run, upsert=True)

    async def runs(self, after_id: str | None, limit: int) -> list[Document]:
        """Reconciliation runs newest first, those older than `after_id` when given."""
        query = {"_id": {"$lt": after_id}} if after_id else {}
        with self.bounded():
            return await self.collection(RUNS).find(query).sort("_id", DESCENDING).limit(limit).to_list()

"""payout-router's MongoDB: payouts (with every attempt's signed bytes), the counters of the hourly and daily limit
windows, the recipient allowlist, the fault breaker, and the money-job store's idempotency keys, outbox (payout
events, committed with each change), leases (the executor's) and audit log.

Every change of a payout is conditional on its `version` as read and commits with its event; the executor's changes
are also fenced by its lease, so a paused former executor cannot write.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from lucid_tron.errors import Aborted, FailedPrecondition, NotFound, QuotaViolation, ResourceExhausted
from lucid_tron.storage import (
    IdempotencyKeys,
    IdempotentCall,
    Lease,
    Leases,
    MoneyJobStore,
    in_transaction,
    utc_now,
)
from lucid_tron.webhooks import WebhookStore

from . import breaker as fault_breaker
from . import events, states
from .limits import DAILY_LIMIT, HOURLY_LIMIT, AssetPolicy

Document = dict[str, Any]
PAYOUTS = "payouts"
WINDOWS = "limit_windows"
ALLOWLIST = "allowed_recipients"
BREAKER = "breaker"
_BREAKER_ID = "fault"
ETAG_MISMATCH = "ETAG_MISMATCH"
RECIPIENT_NOT_ALLOWED = "RECIPIENT_NOT_ALLOWED"


def new_etag() -> str:
    return secrets.token_hex(8)


def window_id(asset: str, period: str, key: str) -> str:
    return f"{asset}:{period}:{key}"


class PayoutRouterStore(MoneyJobStore):
    """Payouts by id (newest first; by state, recipient, asset), one per request_id; limit windows by asset and
    period; the allowlist by address; one breaker document."""

    service = "payout-router"
    indexes: ClassVar[Mapping[str, Sequence[IndexModel]]] = {
        **MoneyJobStore.indexes,
        **WebhookStore.INDEXES,
        PAYOUTS: [
            IndexModel("request_id", unique=True, name="request_id"),
            IndexModel([("state", ASCENDING), ("created_at", ASCENDING)], name="state"),
            IndexModel([("created_at", DESCENDING), ("_id", DESCENDING)], name="newest"),
            IndexModel([("recipient", ASCENDING), ("created_at", DESCENDING)], name="recipient"),
        ],
        WINDOWS: [],
        ALLOWLIST: [],
        BREAKER: [],
    }

    async def create_payout(
        self,
        payout: Document,
        policy: AssetPolicy,
        allowlist_enabled: bool,
        keys: IdempotencyKeys,
        call: IdempotentCall,
        response: bytes,
    ) -> None:
        """The payout, its share of the hourly and daily windows, its first event and the idempotent call's response,
        in one transaction: all or nothing. A conditional increment of each window's counter refuses a payout that
        would take it past its limit, so concurrent creates never overshoot (write conflicts retry the loser)."""

        async def work(session: AsyncClientSession) -> None:
            if allowlist_enabled:
                listed = await self.collection(ALLOWLIST).find_one({"_id": payout["recipient"]}, session=session)
                if listed is None:
                    raise FailedPrecondition(
                        f"{payout['recipient']} is not on the recipient allowlist", reason=RECIPIENT_NOT_ALLOWED,
                        subject=payout["recipient"],
                    )
            for period, limit, reason in (("hour", policy.hourly_limit, HOURLY_LIMIT),
                                          ("day", policy.daily_limit, DAILY_LIMIT)):
                await self._reserve(session, payout, period, limit, reason)
            await self.collection(PAYOUTS, durable=True).insert_one(payout, session=session)
            await self.outbox.emit(session, events.subject(payout["_id"]), events.PAYOUT_CREATED,
                                   events.payload(payout, "created", {}))
            await keys.complete(call, response, session=session)

        with self.bounded():
            await in_transaction(self.db.client, work)

    async def _reserve(self, session: AsyncClientSession, payout: Document, period: str, limit: int,
                       reason: str) -> None:
        windows = self.collection(WINDOWS, durable=True)
        key = window_id(payout["asset"], period, payout["windows"][period])
        await windows.update_one({"_id": key}, {"$setOnInsert": {"used": 0}}, upsert=True, session=session)
        amount = payout["amount"]
        taken = await windows.update_one(
            {"_id": key, "used": {"$lte": limit - amount}}, {"$inc": {"used": amount}}, session=session
        )
        if taken.matched_count == 0:
            window = await windows.find_one({"_id": key}, session=session)
            left = max(0, limit - (window or {}).get("used", 0))
            raise ResourceExhausted(
                f"the payout of {amount} would exceed the {period}ly {payout['asset']} limit of {limit} "
                f"({left} left in this window)",
                reason=reason,
                quota=QuotaViolation(key, f"{left} of {limit} base units left"),
            )

    async def payout(self, payout_id: str) -> Document | None:
        with self.bounded():
            return await self.collection(PAYOUTS).find_one({"_id": payout_id})

    async def payout_by_request(self, request_id: str) -> Document | None:
        with self.bounded():
            return await self.collection(PAYOUTS).find_one({"request_id": request_id})

    async def list_payouts(self, query: Mapping[str, Any], limit: int) -> list[Document]:
        with self.bounded():
            cursor = self.collection(PAYOUTS).find(query).sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            return await cursor.limit(limit).to_list()

    async def actionable(self, limit: int) -> list[Document]:
        """Payouts the executor has work on (to sign, or in flight), oldest first."""
        with self.bounded():
            cursor = self.collection(PAYOUTS).find({"state": {"$in": sorted(states.TO_SIGN | states.IN_FLIGHT)}})
            return await cursor.sort("created_at", ASCENDING).limit(limit).to_list()

    async def apply(
        self,
        payout: Document,
        transition: states.Transition,
        *,
        lease: tuple[Leases, Lease] | None = None,
        breaker: Mapping[str, Any] | None = None,
    ) -> Document:
        """Commit `transition` to the payout as read (its `version` unchanged since) with its event; a final state
        without payment gives its share of the limits back; `breaker`, when given, is written too. With `lease`
        (the executor's), the whole commits only while the lease is the newest (LeaseLost otherwise). Aborted
        (ETAG_MISMATCH) when the payout changed in between: read it again and decide again."""
        now = utc_now()
        changes = {**transition.changes, "version": payout["version"] + 1, "etag": new_etag(), "updated_at": now}
        updated = {**payout, **changes}

        async def work(session: AsyncClientSession) -> None:
            result = await self.collection(PAYOUTS, durable=True).update_one(
                {"_id": payout["_id"], "version": payout["version"]}, {"$set": changes}, session=session
            )
            if result.matched_count == 0:
                raise Aborted("the payout changed concurrently; read it again", reason=ETAG_MISMATCH)
            if updated["state"] in states.RELEASED and payout["state"] not in states.RELEASED:
                windows = self.collection(WINDOWS, durable=True)
                for period, key in payout["windows"].items():
                    await windows.update_one({"_id": window_id(payout["asset"], period, key)},
                                             {"$inc": {"used": -payout["amount"]}}, session=session)
            if breaker is not None:
                await self.collection(BREAKER, durable=True).replace_one(
                    {"_id": _BREAKER_ID}, {**breaker, "_id": _BREAKER_ID}, upsert=True, session=session
                )
            if transition.event_type is not None:
                await self.outbox.emit(session, events.subject(payout["_id"]), transition.event_type,
                                       events.payload(updated, transition.reason, transition.data))

        try:
            with self.bounded():
                if lease is None:
                    await in_transaction(self.db.client, work)
                else:
                    leases, held = lease
                    await leases.fenced(held, work)
        except DuplicateKeyError as error:
            raise Aborted("the payout changed concurrently; read it again", reason=ETAG_MISMATCH) from error
        return updated

    async def window_use(self, asset: str, keys: Mapping[str, str]) -> dict[str, int]:
        """How much of each window (period -> key) is used."""
        ids = {window_id(asset, period, key): period for period, key in keys.items()}
        with self.bounded():
            found = await self.collection(WINDOWS).find({"_id": {"$in": list(ids)}}).to_list()
        used = {period: 0 for period in keys}
        for window in found:
            used[ids[window["_id"]]] = window["used"]
        return used

    async def breaker(self) -> Document:
        with self.bounded():
            found = await self.collection(BREAKER).find_one({"_id": _BREAKER_ID})
        return fault_breaker.initial() if found is None else found

    async def set_breaker(self, breaker: Mapping[str, Any], *, lease: tuple[Leases, Lease] | None = None) -> None:
        """Write the breaker alone (an operator's decision, or the executor admitting a probe: fenced then)."""

        async def work(session: AsyncClientSession) -> None:
            await self.collection(BREAKER, durable=True).replace_one(
                {"_id": _BREAKER_ID}, {**breaker, "_id": _BREAKER_ID}, upsert=True, session=session
            )

        with self.bounded():
            if lease is None:
                await in_transaction(self.db.client, work)
            else:
                await lease[0].fenced(lease[1], work)

    async def allow_recipient(self, address: str, label: str, added_by: str) -> Document:
        with self.bounded():
            await self.collection(ALLOWLIST, durable=True).update_one(
                {"_id": address},
                {"$setOnInsert": {"label": label, "added_by": added_by, "created_at": utc_now()}},
                upsert=True,
            )
            found = await self.collection(ALLOWLIST).find_one({"_id": address})
        assert found is not None
        return found

    async def disallow_recipient(self, address: str) -> None:
        with self.bounded():
            result = await self.collection(ALLOWLIST, durable=True).delete_one({"_id": address})
        if result.deleted_count == 0:
            raise NotFound("allowed recipient", address)

    async def allowed_recipients(self, after: str, limit: int) -> list[Document]:
        with self.bounded():
            cursor = self.collection(ALLOWLIST).find({"_id": {"$gt": after}}).sort("_id", ASCENDING)
            return await cursor.limit(limit).to_list()

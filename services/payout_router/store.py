"""payout-router's MongoDB: payouts (with every attempt's signed bytes), batches of payouts, the counters of the hourly and daily limit
windows, the recipient allowlist, the fault breaker, and the money-job store's idempotency keys, outbox (payout
events, committed with each change), leases (the executor's) and audit log.

Every change of a payout is conditional on its `version` as read and commits with its event; the executor's changes
are also fenced by its lease, so a paused former executor cannot write.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from lucid_tron.errors import Aborted, FailedPrecondition, NotFound, QuotaViolation, ResourceExhausted
from lucid_tron.storage import (
    Insert,
    Lease,
    Leases,
    MoneyJobStore,
    Update,
    Write,
    in_transaction,
    utc_now,
    write_together,
)
from lucid_tron.webhooks import WebhookStore

from . import breaker as fault_breaker
from . import events, states
from .limits import DAILY_LIMIT, HOURLY_LIMIT, Policy

Document = dict[str, Any]
PAYOUTS = "payouts"
BATCHES = "payout_batches"
WINDOWS = "limit_windows"
ALLOWLIST = "allowed_recipients"
BREAKER = "breaker"
_BREAKER_ID = "fault"
ETAG_MISMATCH = "ETAG_MISMATCH"
RECIPIENT_NOT_ALLOWED = "RECIPIENT_NOT_ALLOWED"
#: A payout's field: the sequence number of its latest outbox event (the outbox's `seq` of its subject).
EVENT_SEQ = "event_seq"


def new_etag() -> str:
    return secrets.token_hex(8)


def window_id(asset: str, windows: Mapping[str, str]) -> str:
    """The counters of one asset's UTC day: `used` (the day), `hours.HH`, and per caller role `roles.ROLE.used` and
    `roles.ROLE.hours.HH`; one document, so a create checks and counts all of them in one round trip."""
    return f"{asset}:{windows['day']}"


def _counters(windows: Mapping[str, str], role: str) -> dict[tuple[str, str], str]:
    """(period, "" or the role) -> the counter's field in the day's document."""
    hour = windows["hour"][-2:]
    counters = {("day", ""): "used", ("hour", ""): f"hours.{hour}"}
    if role:
        counters.update({("day", role): f"roles.{role}.used", ("hour", role): f"roles.{role}.hours.{hour}"})
    return counters


def _field(document: Mapping[str, Any] | None, path: str) -> int:
    value: Any = document or {}
    for part in path.split("."):
        value = value.get(part, {}) if isinstance(value, Mapping) else {}
    return value if isinstance(value, int) else 0


def _changed(payout: Document, transition: states.Transition) -> Document:
    """The payout after `transition`: a new version and etag."""
    return {**payout, **transition.changes, "version": payout["version"] + 1, "etag": new_etag(),
            "updated_at": utc_now()}


class _LimitReached(Exception):
    """Inside a create's transaction: the day's counters of `asset` have no room for `amount` in some limit (worked
    out into ResourceExhausted after the transaction, which the refusal ended)."""

    def __init__(self, asset: str, windows: Mapping[str, str], role: str, amount: int,
                 limits: Mapping[tuple[str, str], int]) -> None:
        super().__init__(asset)
        self.asset = asset
        self.windows = windows
        self.role = role
        self.amount = amount
        self.limits = limits


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
            IndexModel([("batch_id", ASCENDING), ("batch_index", ASCENDING)], name="batch"),
        ],
        BATCHES: [
            IndexModel("request_id", unique=True, name="request_id"),
            IndexModel([("created_at", DESCENDING), ("_id", DESCENDING)], name="newest"),
        ],
        WINDOWS: [],
        ALLOWLIST: [],
        BREAKER: [],
    }

    async def create_payouts(self, payouts: Sequence[Document], batch: Document | None, policy: Policy) -> None:
        """The payouts (one alone, or the payouts of `batch` with it), their share of the hourly and daily windows
        and their first events, in one transaction and one round trip (after the allowlist's read, when it is on):
        all or nothing. A conditional increment of each window's counter by the total per asset refuses payouts
        that would take it past its limit (overall, and the creator role's), so concurrent creates never overshoot
        (write conflicts retry the loser). DuplicateKeyError: a payout's or the batch's request_id is taken."""
        try:
            await self._create_payouts(payouts, batch, policy)
        except _LimitReached as reached:
            raise await self._exhausted(reached) from None

    async def _create_payouts(self, payouts: Sequence[Document], batch: Document | None, policy: Policy) -> None:
        first = payouts[0]
        totals: dict[str, int] = {}
        for payout in payouts:
            totals[payout["asset"]] = totals.get(payout["asset"], 0) + payout["amount"]
        reservations = [self._reservation(asset, first["windows"], first["role"], total, policy)
                        for asset, total in sorted(totals.items())]
        writes: list[Write] = [write for write, _ in reservations]
        if batch is not None:
            writes.append(Insert(BATCHES, batch))
        writes += [Insert(PAYOUTS, payout) for payout in payouts]
        writes += [self.outbox.emit_write(events.subject(payout["_id"]), events.PAYOUT_CREATED,
                                          events.payload(payout, "created", {}), seq=payout[EVENT_SEQ])
                   for payout in payouts]

        async def work(session: AsyncClientSession) -> None:
            if policy.allowlist_enabled:
                await self._allowed(session, payouts)
            try:
                await write_together(self.db, session, writes)
            except DuplicateKeyError as error:
                position = (error.details or {}).get("writeIndex")
                if position is not None and position < len(reservations):
                    raise reservations[position][1] from None
                raise

        with self.bounded():
            await in_transaction(self.db.client, work)

    async def _allowed(self, session: AsyncClientSession, payouts: Sequence[Document]) -> None:
        recipients = sorted({payout["recipient"] for payout in payouts})
        listed = await self.collection(ALLOWLIST).find({"_id": {"$in": recipients}}, session=session).to_list()
        missing = sorted(set(recipients) - {entry["_id"] for entry in listed})
        if missing:
            raise FailedPrecondition(
                f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not on the recipient allowlist",
                reason=RECIPIENT_NOT_ALLOWED, subject=missing[0],
            )

    def _reservation(self, asset: str, windows: Mapping[str, str], role: str, amount: int,
                     policy: Policy) -> tuple[Update, _LimitReached]:
        """The write that adds `amount` to the day's and the hour's counters of `asset`, overall and for `role`,
        only while each limited one stays within its limit: one conditional upsert, and the limit reached that a
        collision of it means. A counter not yet written matches (`$not $gt`); a document that exists without room
        makes the upsert collide with it (E11000), which ends the transaction. Raises the limit reached at once
        when `amount` alone is over a limit."""
        fields = _counters(windows, role)
        limits: dict[tuple[str, str], int] = {}
        for period, (overall, own) in policy.limits(asset, role).items():
            limits[(period, "")] = overall
            if own is not None:
                limits[(period, role)] = own
        reached = _LimitReached(asset, windows, role, amount, limits)
        if any(amount > limit for limit in limits.values()):
            raise reached
        room = {fields[counter]: {"$not": {"$gt": limit - amount}} for counter, limit in limits.items()}
        return Update(WINDOWS, {"_id": window_id(asset, windows), **room},
                      {"$inc": dict.fromkeys(fields.values(), amount)}, upsert=True), reached

    async def _exhausted(self, reached: _LimitReached) -> ResourceExhausted:
        with self.bounded():
            found = await self.collection(WINDOWS).find_one({"_id": window_id(reached.asset, reached.windows)})
        fields = _counters(reached.windows, reached.role)
        # The limit that has no room, the hour before the day and the overall one before the role's.
        order = sorted(reached.limits, key=lambda counter: (counter[0] != "hour", counter[1] != ""))
        counter = next((c for c in order if _field(found, fields[c]) + reached.amount > reached.limits[c]), order[0])
        period, role = counter
        limit = reached.limits[counter]
        left = max(0, limit - _field(found, fields[counter]))
        name = f"{reached.asset}:{period}:{reached.windows[period]}" + (f":role={role}" if role else "")
        return ResourceExhausted(
            f"payouts of {reached.amount} would exceed the {period}ly {reached.asset} limit of {limit}"
            f"{f' of the caller role {role}' if role else ''} ({left} left in this window)",
            reason=HOURLY_LIMIT if period == "hour" else DAILY_LIMIT,
            quota=QuotaViolation(name, f"{left} of {limit} base units left"),
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
        updated = _changed(payout, transition)

        async def work(session: AsyncClientSession) -> None:
            await self._write(session, payout, updated, transition)
            if breaker is not None:
                await self.collection(BREAKER, durable=True).replace_one(
                    {"_id": _BREAKER_ID}, {**breaker, "_id": _BREAKER_ID}, upsert=True, session=session
                )

        try:
            with self.bounded():
                if lease is None:
                    await in_transaction(self.db.client, work)
                else:
                    await lease[0].fenced(lease[1], work)
        except DuplicateKeyError as error:
            raise Aborted("the payout changed concurrently; read it again", reason=ETAG_MISMATCH) from error
        return updated

    async def _write(self, session: AsyncClientSession, payout: Document, updated: Document,
                     transition: states.Transition) -> None:
        """One payout's change as read (its `version`), its limits given back when it ends unpaid, and its event,
        numbered by the payout's own `event_seq` (advanced here, with the version the write is conditional on, so
        gap-free); a payout stored before it had one is numbered once more by the outbox's counter, and keeps the
        number from then on. `updated` gets the new `event_seq`, so the caller's copy stays the stored one."""
        changes = {name: updated[name] for name in (*transition.changes, "version", "etag", "updated_at")}
        if transition.event_type is not None:
            own = payout.get(EVENT_SEQ)
            updated[EVENT_SEQ] = changes[EVENT_SEQ] = await self.outbox.emit(
                session, events.subject(payout["_id"]), transition.event_type,
                events.payload(updated, transition.reason, transition.data),
                seq=None if own is None else own + 1,
            )
        result = await self.collection(PAYOUTS, durable=True).update_one(
            {"_id": payout["_id"], "version": payout["version"]}, {"$set": changes}, session=session
        )
        if result.matched_count == 0:
            raise Aborted("the payout changed concurrently; read it again", reason=ETAG_MISMATCH)
        if updated["state"] in states.RELEASED and payout["state"] not in states.RELEASED:
            fields = _counters(payout["windows"], payout["role"]).values()
            await self.collection(WINDOWS, durable=True).update_one(
                {"_id": window_id(payout["asset"], payout["windows"])},
                {"$inc": dict.fromkeys(fields, -payout["amount"])}, session=session,
            )

    async def decide_batch(self, batch: Document, changes: Mapping[str, Any],
                           follow: Callable[[Document], states.Transition]) -> Document:
        """Commit the batch's decision (`changes` to it as read, by its `version`) and `follow(payout)` for each of
        its payouts still AWAITING_APPROVAL, in one transaction. Aborted (ETAG_MISMATCH) when the batch changed."""
        now = utc_now()
        batch_changes = {**changes, "version": batch["version"] + 1, "etag": new_etag(), "updated_at": now}

        async def work(session: AsyncClientSession) -> None:
            result = await self.collection(BATCHES, durable=True).update_one(
                {"_id": batch["_id"], "version": batch["version"]}, {"$set": batch_changes}, session=session
            )
            if result.matched_count == 0:
                raise Aborted("the batch changed concurrently; read it again", reason=ETAG_MISMATCH)
            waiting = await self.collection(PAYOUTS).find(
                {"batch_id": batch["_id"], "state": states.AWAITING_APPROVAL}, session=session
            ).to_list()
            for payout in waiting:
                transition = follow(payout)
                await self._write(session, payout, _changed(payout, transition), transition)

        with self.bounded():
            await in_transaction(self.db.client, work)
        return {**batch, **batch_changes}

    async def batch(self, batch_id: str) -> Document | None:
        with self.bounded():
            return await self.collection(BATCHES).find_one({"_id": batch_id})

    async def batch_by_request(self, request_id: str) -> Document | None:
        with self.bounded():
            return await self.collection(BATCHES).find_one({"request_id": request_id})

    async def batch_payouts(self, batch_id: str) -> list[Document]:
        """The batch's payouts in the order they were given."""
        with self.bounded():
            cursor = self.collection(PAYOUTS).find({"batch_id": batch_id}).sort("batch_index", ASCENDING)
            return await cursor.to_list()

    async def list_batches(self, query: Mapping[str, Any], limit: int) -> list[Document]:
        with self.bounded():
            cursor = self.collection(BATCHES).find(query).sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            return await cursor.limit(limit).to_list()

    async def window_use(self, asset: str, windows: Mapping[str, str], role: str = "") -> dict[str, int]:
        """How much of the current hour and day (`windows`: period -> key) is used, overall or (`role`) by one caller
        role."""
        with self.bounded():
            found = await self.collection(WINDOWS).find_one({"_id": window_id(asset, windows)})
        fields = _counters(windows, role)
        return {period: _field(found, fields[(period, role)]) for period in ("hour", "day")}

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

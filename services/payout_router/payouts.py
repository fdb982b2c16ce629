"""Payouts: created idempotently within the limits (alone or in batches under one approval), approved by a second
person above the threshold, cancelled before signing, failed by an operator once the chain allows; the allowlist and
the breaker for operators. The executor (`executor`) does the rest.

Plain async Python, no grpc: the servicer adapts it to lucid.tron.v1.PayoutRouterService, and it raises
`lucid_tron.errors` for the mesh to map. Who calls is `lucid_tron.context.principal()`, the identity the mesh
authenticated: never a request field.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from google.protobuf.message import Message
from pymongo.errors import DuplicateKeyError

from lucid_tron.context import principal
from lucid_tron.errors import Aborted, AlreadyExists, NotFound
from lucid_tron.storage import IdempotencyKeys, embedded_key, embedded_replay, utc_now

from . import breaker as fault_breaker
from . import states
from .limits import UNAUTHENTICATED, Policy, caller_role, window_ends
from .store import ETAG_MISMATCH, EVENT_SEQ, PayoutRouterStore, new_etag

M = TypeVar("M", bound=Message)

_log = logging.getLogger("lucid_tron.services.payout_router")


@dataclass(frozen=True)
class NewPayout:
    """A checked CreatePayout request."""

    recipient: str
    asset: str
    amount: int
    reference: str


@dataclass(frozen=True)
class AssetUse:
    """One asset's limits and what the current windows hold."""

    asset: str
    hourly_used: int
    daily_used: int
    resets: Mapping[str, datetime]
    #: "" for the overall limits, else the caller role these are of.
    role: str = ""


def payout_id_for(request_id: str) -> str:
    """The payout's id, derived from its request_id: a create that commits once can never commit a second payout."""
    return "po_" + hashlib.sha256(request_id.encode()).hexdigest()[:24]


def batch_id_for(request_id: str) -> str:
    """The batch's id, derived from its request_id (its payouts' ids from the batch id and their position)."""
    return "pb_" + hashlib.sha256(b"batch:" + request_id.encode()).hexdigest()[:24]


async def _newest_first(
    find: Callable[[Mapping[str, Any], int], Awaitable[list[dict[str, Any]]]],
    query: Mapping[str, Any], page_size: int, after: tuple[datetime, str] | None,
) -> tuple[list[dict[str, Any]], tuple[datetime, str] | None]:
    if after is not None:
        created_at, last_id = after
        query = {**query, "$or": [{"created_at": {"$lt": created_at}},
                                  {"created_at": created_at, "_id": {"$lt": last_id}}]}
    page = await find(query, page_size + 1)
    if len(page) > page_size:
        last = page[page_size - 1]
        return page[:page_size], (last["created_at"], last["_id"])
    return page, None


class Payouts:
    """payout-router's requests, on its MongoDB store and its policy."""

    def __init__(self, store: PayoutRouterStore, policy: Policy, ready: asyncio.Event | None = None) -> None:
        self.store = store
        self.policy = policy
        # Set whenever payouts become APPROVED here, so this process's executor signs them at once.
        self._ready = ready or asyncio.Event()
        # Creates of one asset increment the same window counters: in one process they take turns, so they do not
        # spend the caller's deadline retrying write conflicts against each other. MongoDB's conditional increment
        # is still what keeps the limit, also across replicas.
        self._creating = {asset: asyncio.Lock() for asset in policy.assets}

    @property
    def _keys(self) -> IdempotencyKeys:
        return self.store.idempotency_keys

    async def create(
        self,
        request_id: str,
        request: Message,
        new: NewPayout,
        respond: Callable[[Mapping[str, Any]], M],
        response_type: type[M],
    ) -> M:
        """The response (`respond(payout)`) of CreatePayout, once per request_id: the payout, its share of the limits,
        its event and the stored response commit together."""
        with self._keys.creating("CreatePayout", request_id, request):
            payout = self._new_payout(payout_id_for(request_id), request_id, new, approval_required=None)
            response = respond(payout)
            try:
                await self._commit([{**payout, **embedded_key(request_id, request, response)}], None)
            except DuplicateKeyError:
                existing = await self.store.payout_by_request(request_id)
                if existing is not None and "create_response" not in existing:
                    return respond(existing)  # created before keys were kept in payouts: as it is now
                return response_type.FromString(embedded_replay(existing, request))
        self._approved(payout)
        return response

    async def create_batch(
        self,
        request_id: str,
        request: Message,
        new: Sequence[NewPayout],
        reference: str,
        respond: Callable[[Mapping[str, Any], Sequence[Mapping[str, Any]]], M],
        response_type: type[M],
    ) -> M:
        """The response (`respond(batch, payouts)`) of CreatePayoutBatch, once per request_id: the batch, its
        payouts, their share of the limits (the batch's total per asset, checked at once), their events and the
        stored response commit together. The batch needs an approver when its total in an asset is above that
        asset's threshold, so splitting a payout into a batch of small ones does not avoid the second person."""
        with self._keys.creating("CreatePayoutBatch", request_id, request):
            batch_id = batch_id_for(request_id)
            totals: dict[str, list[int]] = {}
            for payout in new:
                total = totals.setdefault(payout.asset, [0, 0])
                total[0] += payout.amount
                total[1] += 1
            approval_required = any(amount > self.policy.assets[asset].approval_threshold
                                    for asset, (amount, _) in totals.items())
            payouts = [
                {**self._new_payout(payout_id_for(f"{batch_id}/{index}"), f"{batch_id}/{index}", payout,
                                    approval_required=approval_required),
                 "batch_id": batch_id, "batch_index": index}
                for index, payout in enumerate(new)
            ]
            first = payouts[0]
            batch = {
                "_id": batch_id,
                "request_id": request_id,
                "state": states.BATCH_AWAITING_APPROVAL if approval_required else states.BATCH_APPROVED,
                "reference": reference,
                "approval_required": approval_required,
                "creator": first["creator"],
                "approver": "",
                "state_reason": "",
                "totals": [{"asset": asset, "amount": amount, "count": count}
                           for asset, (amount, count) in sorted(totals.items())],
                "payout_count": len(payouts),
                "version": 1,
                "etag": new_etag(),
                "created_at": first["created_at"],
                "updated_at": first["created_at"],
            }
            response = respond(batch, payouts)
            try:
                await self._commit(payouts, {**batch, **embedded_key(request_id, request, response)})
            except DuplicateKeyError:
                existing = await self.store.batch_by_request(request_id)
                if existing is not None and "create_response" not in existing:
                    return respond(existing, await self.store.batch_payouts(existing["_id"]))
                if existing is None and await self.store.payout_by_request(payouts[0]["request_id"]) is not None:
                    raise AlreadyExists("payout", request_id, "a payout of another request already has this "
                                        "request_id of a batch payout") from None
                return response_type.FromString(embedded_replay(existing, request))
        self._approved(first)
        return response

    async def _commit(self, payouts: Sequence[dict[str, Any]], batch: dict[str, Any] | None) -> None:
        """Commit a create (`payouts`, with their `batch` if any; the one holding the idempotency key) holding the
        locks of its assets, in order. DuplicateKeyError: its request_id is taken."""
        async with contextlib.AsyncExitStack() as held:
            for asset in sorted({payout["asset"] for payout in payouts}):
                await held.enter_async_context(self._creating[asset])
            await self.store.create_payouts(payouts, batch, self.policy)

    def _new_payout(self, payout_id: str, request_id: str, new: NewPayout,
                    approval_required: bool | None) -> dict[str, Any]:
        """A payout document as created by the caller now (`approval_required` None: by its own amount)."""
        now = utc_now()
        if approval_required is None:
            approval_required = new.amount > self.policy.assets[new.asset].approval_threshold
        creator = principal()
        return {
            "_id": payout_id,
            "request_id": request_id,
            "state": states.AWAITING_APPROVAL if approval_required else states.APPROVED,
            "recipient": new.recipient,
            "asset": new.asset,
            "amount": new.amount,
            "reference": new.reference,
            "from_address": "",
            "approval_required": approval_required,
            "creator": creator or "",
            "role": caller_role(creator),
            "approver": "",
            "state_reason": "",
            "failed_by": "",
            "batch_id": "",
            "batch_index": 0,
            "txid": "",
            "block_number": 0,
            "fee_sun": 0,
            "attempts": [],
            "windows": states.window_keys(now),
            "version": 1,
            EVENT_SEQ: 1,
            "etag": new_etag(),
            "created_at": now,
            "updated_at": now,
        }

    async def get(self, payout_id: str) -> dict[str, Any]:
        payout = await self.store.payout(payout_id)
        if payout is None:
            raise NotFound("payout", payout_id)
        return payout

    async def list_page(
        self, query: Mapping[str, Any], page_size: int, after: tuple[datetime, str] | None
    ) -> tuple[list[dict[str, Any]], tuple[datetime, str] | None]:
        """One page of payouts, newest first (by creation time, then id), and the (creation time, id) to continue
        after (None on the last page)."""
        return await _newest_first(self.store.list_payouts, query, page_size, after)

    async def batch(self, batch_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The batch and its payouts as they are now."""
        batch = await self.store.batch(batch_id)
        if batch is None:
            raise NotFound("payout batch", batch_id)
        return batch, await self.store.batch_payouts(batch_id)

    async def list_batches(
        self, query: Mapping[str, Any], page_size: int, after: tuple[datetime, str] | None
    ) -> tuple[list[dict[str, Any]], tuple[datetime, str] | None]:
        """One page of batches, newest first, like `list_page`."""
        return await _newest_first(self.store.list_batches, query, page_size, after)

    async def decide_batch(self, batch_id: str, etag: str, approve_it: bool,
                           reason: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The batch approved (`approve_it`) or rejected by the caller, with its payouts still awaiting approval."""
        batch, _ = await self.batch(batch_id)
        if batch["etag"] != etag:
            raise Aborted("the batch changed since it was read (etag mismatch); read it again", reason=ETAG_MISMATCH)
        approver = principal()
        changes = states.decide_batch(batch, approver, approve_it, reason)
        decider = changes["approver"]
        await self.store.decide_batch(
            batch, changes,
            (lambda payout: states.approved_with_batch(payout, decider)) if approve_it
            else (lambda payout: states.rejected_with_batch(payout, decider, reason)),
        )
        await self._audit("payout_batch.approve" if approve_it else "payout_batch.reject",
                          {"batch_id": batch_id, "reason": reason})
        decided = await self.batch(batch_id)
        for payout in decided[1]:
            self._approved(payout)
        return decided

    async def fail(self, payout_id: str, etag: str, reason: str) -> dict[str, Any]:
        """An operator's decision that the payout failed: FAILED now when no attempt can still land, else recorded
        for the executor to carry out once the chain proves the attempt lost."""
        payout = await self._current(payout_id, etag)
        transition = states.fail_by_operator(payout, principal(), reason)
        if transition is None:
            return payout
        updated = await self.store.apply(payout, transition)
        await self._audit("payout.fail", {"payout_id": payout_id, "reason": reason, "state": updated["state"]})
        return updated

    async def approve(self, payout_id: str, etag: str) -> dict[str, Any]:
        payout = await self._current(payout_id, etag)
        approver = principal()
        updated = await self.store.apply(payout, states.approve(payout, approver))
        self._approved(updated)
        await self._audit("payout.approve", {"payout_id": payout_id, "amount": payout["amount"]})
        return updated

    async def reject(self, payout_id: str, etag: str, reason: str) -> dict[str, Any]:
        payout = await self._current(payout_id, etag)
        updated = await self.store.apply(payout, states.reject(payout, principal(), reason))
        await self._audit("payout.reject", {"payout_id": payout_id, "reason": reason})
        return updated

    async def cancel(self, payout_id: str, reason: str) -> dict[str, Any]:
        payout = await self.get(payout_id)
        transition = states.cancel(payout, reason)
        if transition is None:
            return payout
        updated = await self.store.apply(payout, transition)
        await self._audit("payout.cancel", {"payout_id": payout_id, "reason": transition.reason})
        return updated

    async def limits(self) -> list[AssetUse]:
        """Use of the current windows: overall per asset, then per configured caller role and asset."""
        now = utc_now()
        keys = states.window_keys(now)
        wanted = [(asset, "") for asset in self.policy.assets]
        wanted += [(asset, role) for role, assets in sorted(self.policy.roles.items()) for asset in assets]
        used = []
        for asset, role in wanted:
            use = await self.store.window_use(asset, keys, role)
            used.append(AssetUse(asset, use["hour"], use["day"], window_ends(now), role))
        return used

    async def breaker(self) -> dict[str, Any]:
        """The fault breaker as stored; when it is closed but a limit window is used up, it reads as open by LIMIT
        until that window rolls over."""
        current = await self.store.breaker()
        if current["state"] != fault_breaker.CLOSED:
            return current
        for use in await self.limits():
            if use.role:
                continue  # one role's limit holds up that role's payouts only, not the others'
            asset = self.policy.assets[use.asset]
            for period, used, limit in (("hour", use.hourly_used, asset.hourly_limit),
                                        ("day", use.daily_used, asset.daily_limit)):
                if used >= limit:
                    return {**current, "state": fault_breaker.OPEN, "cause": fault_breaker.LIMIT,
                            "next_probe_at": use.resets[period],
                            "reason": f"the {period}ly {use.asset} limit of {limit} is used up"}
        return current

    async def set_breaker(self, open_it: bool, reason: str) -> dict[str, Any]:
        updated = fault_breaker.set_by_operator(await self.store.breaker(), open_it, reason)
        await self.store.set_breaker(updated)
        await self._audit("breaker.open" if open_it else "breaker.close", {"reason": reason})
        return await self.breaker()

    async def allow_recipient(self, address: str, label: str) -> dict[str, Any]:
        listed = await self.store.allow_recipient(address, label, principal() or "")
        await self._audit("allowlist.add", {"address": address, "label": label})
        return listed

    async def disallow_recipient(self, address: str) -> None:
        await self.store.disallow_recipient(address)
        await self._audit("allowlist.remove", {"address": address})

    async def allowed_recipients(self, after: str, limit: int) -> list[dict[str, Any]]:
        return await self.store.allowed_recipients(after, limit)

    def _approved(self, payout: Mapping[str, Any]) -> None:
        if payout["state"] == states.APPROVED:
            self._ready.set()

    async def _current(self, payout_id: str, etag: str) -> dict[str, Any]:
        payout = await self.get(payout_id)
        if payout["etag"] != etag:
            raise Aborted("the payout changed since it was read (etag mismatch); read it again", reason=ETAG_MISMATCH)
        return payout

    async def _audit(self, action: str, details: Mapping[str, Any]) -> None:
        """After the change committed: the audit log records who did it. Its failure is logged, not raised, since the
        change itself stands."""
        try:
            await self.store.audit_log.append(principal() or UNAUTHENTICATED, action, details)
        except Exception:
            _log.warning("could not append %s to the audit log", action, exc_info=True)

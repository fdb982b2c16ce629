"""Payouts: created idempotently within the limits, approved by a second person above the threshold, cancelled before
signing; the allowlist and the breaker for operators. The executor (`executor`) does the rest.

Plain async Python, no grpc: the servicer adapts it to lucid.tron.v1.PayoutRouterService, and it raises
`lucid_tron.errors` for the mesh to map. Who calls is `lucid_tron.context.principal()`, the identity the mesh
authenticated: never a request field.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from google.protobuf.message import Message
from pymongo.errors import DuplicateKeyError

from lucid_tron.context import principal
from lucid_tron.errors import Aborted, NotFound
from lucid_tron.storage import IdempotencyKeys, utc_now

from . import breaker as fault_breaker
from . import states
from .limits import Policy, window_ends
from .store import ETAG_MISMATCH, PayoutRouterStore, new_etag

M = TypeVar("M", bound=Message)
#: Who did it, in the audit log, when the caller has no authenticated identity (plaintext, tests).
UNAUTHENTICATED = "unauthenticated"

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


def payout_id_for(request_id: str) -> str:
    """The payout's id, derived from its request_id: a create that commits once can never commit a second payout."""
    return "po_" + hashlib.sha256(request_id.encode()).hexdigest()[:24]


class Payouts:
    """payout-router's requests, on its MongoDB store and its policy."""

    def __init__(self, store: PayoutRouterStore, policy: Policy) -> None:
        self.store = store
        self.policy = policy
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
        asset = self.policy.assets[new.asset]
        call = await self._keys.begin("CreatePayout", request_id, request)
        if call.replay is not None:
            return response_type.FromString(call.replay)
        try:
            now = utc_now()
            approval_required = new.amount > asset.approval_threshold
            payout = {
                "_id": payout_id_for(request_id),
                "request_id": request_id,
                "state": states.AWAITING_APPROVAL if approval_required else states.APPROVED,
                "recipient": new.recipient,
                "asset": new.asset,
                "amount": new.amount,
                "reference": new.reference,
                "from_address": "",
                "approval_required": approval_required,
                "creator": principal() or "",
                "approver": "",
                "state_reason": "",
                "txid": "",
                "block_number": 0,
                "fee_sun": 0,
                "attempts": [],
                "windows": states.window_keys(now),
                "version": 1,
                "etag": new_etag(),
                "created_at": now,
                "updated_at": now,
            }
            response = respond(payout)
            async with self._creating[new.asset]:
                await self.store.create_payout(
                    payout, asset, self.policy.allowlist_enabled, self._keys, call,
                    response.SerializeToString(deterministic=True),
                )
        except DuplicateKeyError:
            # The key was forgotten (kept 24 h) but its payout stays: the same request_id names the same payout.
            await self._keys.abandon(call)
            existing = await self.store.payout_by_request(request_id)
            if existing is None:
                raise
            return respond(existing)
        except BaseException:
            await self._keys.abandon(call)
            raise
        return response

    async def get(self, payout_id: str) -> dict[str, Any]:
        payout = await self.store.payout(payout_id)
        if payout is None:
            raise NotFound("payout", payout_id)
        return payout

    async def list_page(
        self, query: Mapping[str, Any], page_size: int, after: tuple[datetime, str] | None
    ) -> tuple[list[dict[str, Any]], tuple[datetime, str] | None]:
        """One page, newest first (by creation time, then id), and the (creation time, id) to continue after (None
        on the last page)."""
        if after is not None:
            created_at, payout_id = after
            query = {**query, "$or": [{"created_at": {"$lt": created_at}},
                                      {"created_at": created_at, "_id": {"$lt": payout_id}}]}
        page = await self.store.list_payouts(query, page_size + 1)
        if len(page) > page_size:
            last = page[page_size - 1]
            return page[:page_size], (last["created_at"], last["_id"])
        return page, None

    async def approve(self, payout_id: str, etag: str) -> dict[str, Any]:
        payout = await self._current(payout_id, etag)
        approver = principal()
        updated = await self.store.apply(payout, states.approve(payout, approver))
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
        now = utc_now()
        keys = states.window_keys(now)
        used = []
        for asset in self.policy.assets:
            use = await self.store.window_use(asset, keys)
            used.append(AssetUse(asset, use["hour"], use["day"], window_ends(now)))
        return used

    async def breaker(self) -> dict[str, Any]:
        """The fault breaker as stored; when it is closed but a limit window is used up, it reads as open by LIMIT
        until that window rolls over."""
        current = await self.store.breaker()
        if current["state"] != fault_breaker.CLOSED:
            return current
        for use in await self.limits():
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

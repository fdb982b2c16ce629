"""The gRPC adapter of payout-router: lucid.tron.v1.PayoutRouterService over `Payouts`.

Each RPC checks its request (`messages`, every bad field named at once), calls `Payouts`, and maps the answer back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lucid.tron.v1 import payout_router_pb2 as pr
from lucid.tron.v1 import payout_router_pb2_grpc
from lucid_tron.mesh import Registration
from lucid_tron.validation import FieldChecks

from . import messages
from .payouts import Payouts


class PayoutRouterServicer(payout_router_pb2_grpc.PayoutRouterServiceServicer):
    """lucid.tron.v1.PayoutRouterService."""

    def __init__(self, payouts: Payouts) -> None:
        self._payouts = payouts

    async def CreatePayout(self, request: pr.CreatePayoutRequest, context: Any) -> pr.CreatePayoutResponse:
        check = FieldChecks()
        new = messages.new_payout(check, request, self._payouts.policy)
        check.done()
        assert new is not None
        return await self._payouts.create(
            request.request_id,
            request,
            new,
            lambda payout: pr.CreatePayoutResponse(payout=messages.payout_message(payout)),
            pr.CreatePayoutResponse,
        )

    async def GetPayout(self, request: pr.GetPayoutRequest, context: Any) -> pr.GetPayoutResponse:
        payout = await self._payouts.get(_payout_id(request.payout_id))
        return pr.GetPayoutResponse(payout=messages.payout_message(payout))

    async def ListPayouts(self, request: pr.ListPayoutsRequest, context: Any) -> pr.ListPayoutsResponse:
        check = FieldChecks()
        query = messages.list_query(check, request)
        size = check.page_size("page_size", request.page_size, default=messages.DEFAULT_PAGE_SIZE,
                               maximum=messages.MAX_PAGE_SIZE)
        after = messages.page_token(check, request.page_token)
        check.done()
        assert size is not None
        page, last = await self._payouts.list_page(query, size, after)
        return pr.ListPayoutsResponse(
            payouts=[messages.payout_message(payout) for payout in page], next_page_token=messages.next_page_token(last)
        )

    async def ApprovePayout(self, request: pr.ApprovePayoutRequest, context: Any) -> pr.ApprovePayoutResponse:
        payout_id, etag, _ = _decision(messages.payout_id, request.payout_id, request.etag, None)
        payout = await self._payouts.approve(payout_id, etag)
        return pr.ApprovePayoutResponse(payout=messages.payout_message(payout))

    async def RejectPayout(self, request: pr.RejectPayoutRequest, context: Any) -> pr.RejectPayoutResponse:
        payout_id, etag, reason = _decision(messages.payout_id, request.payout_id, request.etag, request.reason)
        payout = await self._payouts.reject(payout_id, etag, reason)
        return pr.RejectPayoutResponse(payout=messages.payout_message(payout))

    async def CancelPayout(self, request: pr.CancelPayoutRequest, context: Any) -> pr.CancelPayoutResponse:
        check = FieldChecks()
        payout_id = messages.payout_id(check, request.payout_id)
        reason = check.string("reason", request.reason, required=False, max_length=messages.MAX_TEXT) or ""
        check.done()
        assert payout_id is not None
        payout = await self._payouts.cancel(payout_id, reason)
        return pr.CancelPayoutResponse(payout=messages.payout_message(payout))

    async def FailPayout(self, request: pr.FailPayoutRequest, context: Any) -> pr.FailPayoutResponse:
        payout_id, etag, reason = _decision(messages.payout_id, request.payout_id, request.etag, request.reason)
        payout = await self._payouts.fail(payout_id, etag, reason)
        return pr.FailPayoutResponse(payout=messages.payout_message(payout))

    async def CreatePayoutBatch(
        self, request: pr.CreatePayoutBatchRequest, context: Any
    ) -> pr.CreatePayoutBatchResponse:
        check = FieldChecks()
        new = messages.new_batch(check, request, self._payouts.policy)
        check.done()
        assert new is not None
        payouts, reference = new
        return await self._payouts.create_batch(
            request.request_id,
            request,
            payouts,
            reference,
            lambda batch, created: pr.CreatePayoutBatchResponse(batch=messages.batch_message(batch, created)),
            pr.CreatePayoutBatchResponse,
        )

    async def GetPayoutBatch(self, request: pr.GetPayoutBatchRequest, context: Any) -> pr.GetPayoutBatchResponse:
        check = FieldChecks()
        batch_id = messages.batch_id(check, request.batch_id)
        check.done()
        assert batch_id is not None
        return pr.GetPayoutBatchResponse(batch=messages.batch_message(*await self._payouts.batch(batch_id)))

    async def ListPayoutBatches(
        self, request: pr.ListPayoutBatchesRequest, context: Any
    ) -> pr.ListPayoutBatchesResponse:
        check = FieldChecks()
        query = messages.batch_query(check, request)
        size = check.page_size("page_size", request.page_size, default=messages.DEFAULT_PAGE_SIZE,
                               maximum=messages.MAX_PAGE_SIZE)
        after = messages.page_token(check, request.page_token, prefix="pb")
        check.done()
        assert size is not None
        page, last = await self._payouts.list_batches(query, size, after)
        return pr.ListPayoutBatchesResponse(
            batches=[messages.batch_message(batch) for batch in page], next_page_token=messages.next_page_token(last)
        )

    async def ApprovePayoutBatch(
        self, request: pr.ApprovePayoutBatchRequest, context: Any
    ) -> pr.ApprovePayoutBatchResponse:
        batch_id, etag, _ = _decision(messages.batch_id, request.batch_id, request.etag, None)
        decided = await self._payouts.decide_batch(batch_id, etag, True, "")
        return pr.ApprovePayoutBatchResponse(batch=messages.batch_message(*decided))

    async def RejectPayoutBatch(
        self, request: pr.RejectPayoutBatchRequest, context: Any
    ) -> pr.RejectPayoutBatchResponse:
        batch_id, etag, reason = _decision(messages.batch_id, request.batch_id, request.etag, request.reason)
        decided = await self._payouts.decide_batch(batch_id, etag, False, reason)
        return pr.RejectPayoutBatchResponse(batch=messages.batch_message(*decided))

    async def GetLimits(self, request: pr.GetLimitsRequest, context: Any) -> pr.GetLimitsResponse:
        policy = self._payouts.policy
        return pr.GetLimitsResponse(
            limits=[messages.limits_message(use, policy) for use in await self._payouts.limits()],
            allowlist_enabled=policy.allowlist_enabled,
        )

    async def AddAllowedRecipient(
        self, request: pr.AddAllowedRecipientRequest, context: Any
    ) -> pr.AddAllowedRecipientResponse:
        check = FieldChecks()
        address = check.address("recipient.address", request.recipient.address)
        label = check.string("recipient.label", request.recipient.label, required=False,
                             max_length=messages.MAX_TEXT) or ""
        check.done()
        assert address is not None
        listed = await self._payouts.allow_recipient(address, label)
        return pr.AddAllowedRecipientResponse(recipient=messages.recipient_message(listed))

    async def RemoveAllowedRecipient(
        self, request: pr.RemoveAllowedRecipientRequest, context: Any
    ) -> pr.RemoveAllowedRecipientResponse:
        check = FieldChecks()
        address = check.address("address", request.address)
        check.done()
        assert address is not None
        await self._payouts.disallow_recipient(address)
        return pr.RemoveAllowedRecipientResponse()

    async def ListAllowedRecipients(
        self, request: pr.ListAllowedRecipientsRequest, context: Any
    ) -> pr.ListAllowedRecipientsResponse:
        check = FieldChecks()
        size = check.page_size("page_size", request.page_size, default=messages.DEFAULT_PAGE_SIZE,
                               maximum=messages.MAX_PAGE_SIZE)
        after = check.address("page_token", request.page_token, required=False) or ""
        check.done()
        assert size is not None
        page = await self._payouts.allowed_recipients(after, size + 1)
        token = page[size - 1]["_id"] if len(page) > size else ""
        return pr.ListAllowedRecipientsResponse(
            recipients=[messages.recipient_message(listed) for listed in page[:size]], next_page_token=token
        )

    async def GetBreaker(self, request: pr.GetBreakerRequest, context: Any) -> pr.GetBreakerResponse:
        current = await self._payouts.breaker()
        return pr.GetBreakerResponse(breaker=messages.breaker_message(current, self._payouts.policy))

    async def SetBreaker(self, request: pr.SetBreakerRequest, context: Any) -> pr.SetBreakerResponse:
        check = FieldChecks()
        open_it = None
        if request.state == pr.BREAKER_STATE_HALF_OPEN:
            check.fail("state", "only OPEN or CLOSED can be set; HALF_OPEN follows from the recovery time")
        else:
            open_it = check.enum("state", request.state, messages.SETTABLE_BREAKER_STATES)
        reason = check.string("reason", request.reason, max_length=messages.MAX_TEXT)
        check.done()
        assert open_it is not None and reason is not None
        current = await self._payouts.set_breaker(open_it, reason)
        return pr.SetBreakerResponse(breaker=messages.breaker_message(current, self._payouts.policy))


def _decision(
    checked_id: Callable[[FieldChecks, str], str | None], identifier: str, etag: str, reason: str | None
) -> tuple[str, str, str]:
    """The (id, etag, reason) of a decision on a payout or batch; `reason` None when the RPC has none (then "")."""
    check = FieldChecks()
    checked = checked_id(check, identifier)
    seen = check.string("etag", etag, max_length=64)
    why = "" if reason is None else check.string("reason", reason, max_length=messages.MAX_TEXT)
    check.done()
    assert checked is not None and seen is not None and why is not None
    return checked, seen, why


def _payout_id(value: str) -> str:
    check = FieldChecks()
    payout_id = messages.payout_id(check, value)
    check.done()
    assert payout_id is not None
    return payout_id


def registration(servicer: PayoutRouterServicer) -> Registration:
    """The servicer as the mesh registers it (health and reflection under SERVICE_NAME)."""
    return Registration(payout_router_pb2_grpc.add_PayoutRouterServiceServicer_to_server, servicer,
                        messages.SERVICE_NAME)

"""Four eyes: payouts above the approval threshold wait for a second person. The approver is the identity the mesh
authenticated (mutual TLS with operator certificates), never a request field; the creator cannot approve."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
import pytest

from fixtures.rpc_errors import error_reason
from integration.payout_router.approval_kit import ALICE, BOB, USDT_CONTRACT, alice_and_bob, router, stub
from integration.payout_router.payout_kit import USDT, recipient
from lucid.tron.v1 import payout_router_pb2 as pr
from lucid.tron.v1 import payout_router_pb2_grpc
from lucid_tron.mesh import serving
from lucid_tron.services.payout_router.__main__ import PayoutRouterSettings, build

async def _create_large(client: payout_router_pb2_grpc.PayoutRouterServiceStub) -> pr.Payout:
    return (await client.CreatePayout(pr.CreatePayoutRequest(
        request_id=str(uuid.uuid4()),
        payout=pr.Payout(recipient=recipient(), asset=USDT, amount_base_units=5_000_000),
    ))).payout


async def test_a_payout_above_the_threshold_is_approved_by_a_second_operator(mongo_url, redis_url, operators):
    pki, files = operators
    async with router(mongo_url, redis_url, pki) as address:
        async with alice_and_bob(address, files) as (alice, bob):
            created = await _create_large(alice)
            approved = await bob.ApprovePayout(pr.ApprovePayoutRequest(payout_id=created.payout_id, etag=created.etag))
    assert created.state == pr.PAYOUT_STATE_AWAITING_APPROVAL
    assert created.approval_required and created.creator == ALICE
    assert approved.payout.state == pr.PAYOUT_STATE_APPROVED
    assert approved.payout.approver == BOB


async def test_the_creator_cannot_approve_their_own_payout(mongo_url, redis_url, operators):
    pki, files = operators
    async with router(mongo_url, redis_url, pki) as address:
        channel, alice = stub(address, files[ALICE])
        async with channel:
            created = await _create_large(alice)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await alice.ApprovePayout(pr.ApprovePayoutRequest(payout_id=created.payout_id, etag=created.etag))
            still = (await alice.GetPayout(pr.GetPayoutRequest(payout_id=created.payout_id))).payout
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_reason(refused.value) == "SELF_APPROVAL"
    assert still.state == pr.PAYOUT_STATE_AWAITING_APPROVAL


async def test_approval_with_a_stale_etag_is_aborted(mongo_url, redis_url, operators):
    pki, files = operators
    async with router(mongo_url, redis_url, pki) as address:
        async with alice_and_bob(address, files) as (alice, bob):
            created = await _create_large(alice)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await bob.ApprovePayout(pr.ApprovePayoutRequest(payout_id=created.payout_id, etag="0" * 16))
    assert refused.value.code() == grpc.StatusCode.ABORTED
    assert error_reason(refused.value) == "ETAG_MISMATCH"


async def test_a_rejected_payout_is_final_and_gives_its_limit_back(mongo_url, redis_url, operators):
    pki, files = operators
    async with router(mongo_url, redis_url, pki) as address:
        async with alice_and_bob(address, files) as (alice, bob):
            created = await _create_large(alice)
            rejected = await bob.RejectPayout(
                pr.RejectPayoutRequest(payout_id=created.payout_id, etag=created.etag, reason="unknown recipient"))
            with pytest.raises(grpc.aio.AioRpcError) as late:
                await bob.ApprovePayout(
                    pr.ApprovePayoutRequest(payout_id=created.payout_id, etag=rejected.payout.etag))
            limits = await bob.GetLimits(pr.GetLimitsRequest())
    assert rejected.payout.state == pr.PAYOUT_STATE_REJECTED
    assert rejected.payout.state_reason == "unknown recipient"
    assert late.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert [entry.daily_used_base_units for entry in limits.limits if entry.asset == USDT] == [0]


async def test_approving_a_cancelled_payout_is_a_failed_precondition(mongo_url, redis_url, operators):
    pki, files = operators
    async with router(mongo_url, redis_url, pki) as address:
        async with alice_and_bob(address, files) as (alice, bob):
            created = await _create_large(alice)
            cancelled = await alice.CancelPayout(pr.CancelPayoutRequest(payout_id=created.payout_id))
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await bob.ApprovePayout(
                    pr.ApprovePayoutRequest(payout_id=created.payout_id, etag=cancelled.payout.etag))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_without_an_identity_nobody_approves(mongo_url, redis_url, tmp_path: Path):
    settings = PayoutRouterSettings(
        port=0, insecure_plaintext=True, mongo_url=mongo_url, mongo_database=f"payout_{uuid.uuid4().hex[:12]}",
        redis_url=redis_url, tron_client_addr="127.0.0.1:9", wallet_manager_addr="127.0.0.1:9",
        usdt_contract=USDT_CONTRACT, approval_threshold_usdt_base_units=1_000_000, dependency_check_interval_s=5.0,
    )
    async with serving(build(settings), settings) as server, grpc.aio.insecure_channel(server.address) as channel:
        client = payout_router_pb2_grpc.PayoutRouterServiceStub(channel)
        created = await _create_large(client)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await client.ApprovePayout(pr.ApprovePayoutRequest(payout_id=created.payout_id, etag=created.etag))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_reason(refused.value) == "APPROVER_UNKNOWN"

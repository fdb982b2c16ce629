"""An operator's decision that a payout failed (FailPayout): recorded with the operator's authenticated identity, and
carried out only when the chain proves no attempt of the payout can still land; then FAILED, its limits given back,
and a payout.failed event naming the operator."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import grpc
import pytest
from pymongo import AsyncMongoClient

from fixtures.pki import tls_fields
from fixtures.rpc_errors import error_reason
from integration.payout_router.approval_kit import BOB, alice_and_bob, router
from integration.payout_router.payout_kit import (
    USDT,
    payout_stack,
    recipient,
    running_executor,
    tronpy_client,
    usdt_balance,
)
from lucid.tron.v1 import payout_router_pb2 as pr
from lucid_tron.devnet import Devnet
from lucid_tron.mesh import serving
from lucid_tron.services.payout_router.__main__ import build


def _request(amount: int, to: str) -> pr.CreatePayoutRequest:
    return pr.CreatePayoutRequest(request_id=str(uuid.uuid4()),
                                  payout=pr.Payout(recipient=to, asset=USDT, amount_base_units=amount))


async def _until(client, payout_id: str, done, timeout_s: float = 90.0) -> pr.Payout:
    deadline = time.monotonic() + timeout_s
    while True:
        payout = (await client.GetPayout(pr.GetPayoutRequest(payout_id=payout_id))).payout
        if done(payout):
            return payout
        assert time.monotonic() < deadline, f"payout {payout_id} still {pr.PayoutState.Name(payout.state)}"
        await asyncio.sleep(0.2)


async def test_a_payout_failed_by_an_operator_becomes_failed_once_its_attempt_is_proven_lost(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet, operators
):
    pki, files = operators
    to = recipient()
    # No node accepts the transaction: the attempt stays signed, and could still land until it expires and the chain
    # proves it absent. (A broadcast that lands after the decision would make the payout CONFIRMED: it was paid.)
    chain.faults.add(status=503, paths=["/wallet/broadcasthex"])
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, serve_router=False,
                            payout_expiration_s=3.0) as stack, running_executor(stack.settings):
        # The operators' router answers over mutual TLS; the executor above pays through the stack's plaintext peers.
        settings = stack.router_settings(insecure_plaintext=False, payout_wallet_id="",
                                         **tls_fields(pki.files("services", "payout-router")))
        async with serving(build(settings), settings) as server, alice_and_bob(server.address, files) as (alice, bob):
            created = (await alice.CreatePayout(_request(1_500_000, to))).payout
            signed = await _until(bob, created.payout_id, lambda p: p.state == pr.PAYOUT_STATE_SIGNED)
            asked = (await bob.FailPayout(pr.FailPayoutRequest(payout_id=created.payout_id, etag=signed.etag,
                                                               reason="the operator closed the account"))).payout
            failed = await _until(bob, created.payout_id, lambda p: p.state == pr.PAYOUT_STATE_FAILED)
            limits = (await bob.GetLimits(pr.GetLimitsRequest())).limits
        async with tronpy_client(chain) as tron:
            paid = await usdt_balance(tron, chain, to)
        client: AsyncMongoClient = AsyncMongoClient(mongo_url)
        try:
            events = await client[settings.mongo_database]["outbox"].find(
                {"subject": f"payout/{created.payout_id}"}).sort("seq", 1).to_list()
        finally:
            await client.close()
    assert asked.state == pr.PAYOUT_STATE_SIGNED and asked.failed_by == BOB
    assert failed.failed_by == BOB and failed.state_reason == "the operator closed the account"
    assert [attempt.state for attempt in failed.attempts] == [pr.ATTEMPT_STATE_EXPIRED]
    assert paid == 0
    assert [entry.daily_used_base_units for entry in limits if entry.asset == USDT] == [0]
    assert events[-1]["kind"] == "payout.failed"
    assert events[-1]["payload"]["data"]["failed_by"] == BOB


async def test_a_payout_never_signed_is_cancelled_not_failed(mongo_url, redis_url, operators):
    pki, files = operators
    async with router(mongo_url, redis_url, pki) as address, alice_and_bob(address, files) as (alice, bob):
        created = (await alice.CreatePayout(_request(500_000, recipient()))).payout
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await bob.FailPayout(pr.FailPayoutRequest(payout_id=created.payout_id, etag=created.etag, reason="no"))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(refused.value) == "PAYOUT_STATE"


async def test_failing_a_payout_needs_an_authenticated_operator(mongo_url, redis_url, tmp_path: Path, chain: Devnet):
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, payout_wallet_id="") as stack:
        created = await stack.create(amount=500_000)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stack.stub.FailPayout(pr.FailPayoutRequest(payout_id=created.payout_id, etag=created.etag,
                                                             reason="no"))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_reason(refused.value) == "APPROVER_UNKNOWN"

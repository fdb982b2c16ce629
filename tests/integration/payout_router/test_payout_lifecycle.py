"""A payout from CreatePayout to a solidified transfer on devnet, checked on chain with unmodified tronpy."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import grpc
import pytest
from pymongo import AsyncMongoClient
from standardwebhooks import Webhook

from fixtures.rpc_errors import error_reason, field_violations
from integration.payout_router.payout_kit import (
    CONFIRMED,
    TRX,
    USDT,
    payout_stack,
    recipient,
    tronpy_client,
    usdt_balance,
)
from integration.wallet_manager.wallet_kit import generous_policy
from integration.webhooks.webhook_kit import Receiver
from lucid.tron.v1 import payout_router_pb2 as pr
from lucid.tron.v1 import wallet_pb2, webhooks_pb2, webhooks_pb2_grpc
from lucid_tron.devnet import Devnet


async def test_a_usdt_payout_is_confirmed_on_chain_exactly_once(mongo_url, redis_url, tmp_path: Path, chain: Devnet):
    to = recipient()
    async with payout_stack(mongo_url, redis_url, tmp_path, chain) as stack:
        created = await stack.create(amount=2_500_000, to=to)
        assert created.state == pr.PAYOUT_STATE_APPROVED
        done = await stack.wait_for(created.payout_id, CONFIRMED)
        async with tronpy_client(chain) as tron:
            assert await usdt_balance(tron, chain, to) == 2_500_000
    assert len(done.attempts) == 1
    assert done.attempts[0].state == pr.ATTEMPT_STATE_CONFIRMED
    assert done.block_number > 0 and done.fee_sun > 0
    assert done.from_address == stack.payer


async def test_a_trx_payout_is_confirmed_on_chain(mongo_url, redis_url, tmp_path: Path, chain: Devnet):
    to = recipient()
    async with payout_stack(mongo_url, redis_url, tmp_path, chain) as stack:
        created = await stack.create(amount=3_000_000, asset=TRX, to=to)
        await stack.wait_for(created.payout_id, CONFIRMED)
        async with tronpy_client(chain) as tron:
            assert await tron.get_account_balance(to) * 1_000_000 == 3_000_000


async def test_a_payout_emits_created_broadcast_and_confirmed_in_order(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet, mongo_client
):
    async with payout_stack(mongo_url, redis_url, tmp_path, chain) as stack:
        created = await stack.create(amount=1_000_000)
        await stack.wait_for(created.payout_id, CONFIRMED)
        outbox = mongo_client[stack.settings.mongo_database]["outbox"]
        events = await outbox.find({"subject": f"payout/{created.payout_id}"}).sort("seq").to_list()
    assert [(event["seq"], event["kind"]) for event in events] == [
        (1, "payout.created"), (2, "payout.broadcast"), (3, "payout.confirmed")
    ]


async def test_a_payout_stored_before_its_own_event_numbering_goes_on_from_the_outbox_counter(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet, mongo_client
):
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, approval_threshold_usdt_base_units=1) as stack:
        created = await stack.create(amount=5_000_000)
        db = mongo_client[stack.settings.mongo_database]
        subject = f"payout/{created.payout_id}"
        # As an older payout-router stored it: no event_seq on the payout, its first event numbered by the counter.
        await db["payouts"].update_one({"_id": created.payout_id}, {"$unset": {"event_seq": ""}})
        await db["outbox_sequences"].insert_one({"_id": subject, "seq": 1})
        await stack.stub.CancelPayout(pr.CancelPayoutRequest(payout_id=created.payout_id, reason="typo"))
        events = await db["outbox"].find({"subject": subject}).sort("seq").to_list()
        stored = await db["payouts"].find_one({"_id": created.payout_id})
    assert [(event["seq"], event["kind"]) for event in events] == [(1, "payout.created"), (2, "payout.cancelled")]
    assert stored["event_seq"] == 2


async def test_the_same_request_id_returns_the_same_payout(mongo_url, redis_url, tmp_path: Path, chain: Devnet):
    to = recipient()
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, serve_router=True) as stack:
        first = await stack.create(amount=1_000_000, to=to, request_id="req-same")
        again = await stack.create(amount=1_000_000, to=to, request_id="req-same")
        listed = await stack.stub.ListPayouts(pr.ListPayoutsRequest(recipient=to))
    assert again.payout_id == first.payout_id
    assert len(listed.payouts) == 1


async def test_a_request_id_reused_with_another_body_is_refused(mongo_url, redis_url, tmp_path: Path, chain: Devnet):
    async with payout_stack(mongo_url, redis_url, tmp_path, chain) as stack:
        await stack.create(amount=1_000_000, request_id="req-reused")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stack.create(amount=2_000_000, request_id="req-reused")
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(refused.value) == "IDEMPOTENCY_KEY_REUSED"
    assert "request_id" in field_violations(refused.value)


@pytest.mark.parametrize(
    ("payout", "field"),
    [
        ({"recipient": "TNotAnAddress", "asset": 2, "amount_base_units": 1}, "payout.recipient"),
        ({"recipient": "", "asset": 2, "amount_base_units": 1}, "payout.recipient"),
        ({"asset": 2, "amount_base_units": 0}, "payout.amount_base_units"),
        ({"asset": 2, "amount_base_units": -5}, "payout.amount_base_units"),
        ({"asset": 2, "amount_base_units": 1_000_000_001}, "payout.amount_base_units"),
        ({"asset": 0, "amount_base_units": 1}, "payout.asset"),
        ({"asset": 7, "amount_base_units": 1}, "payout.asset"),
    ],
    ids=["invalid-recipient", "no-recipient", "zero", "negative", "over-max", "no-asset", "unknown-asset"],
)
async def test_bad_input_is_refused_naming_the_field(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet, payout: dict, field: str
):
    async with payout_stack(mongo_url, redis_url, tmp_path, chain) as stack:
        values = {"recipient": recipient(), **payout}
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stack.stub.CreatePayout(pr.CreatePayoutRequest(request_id="bad-1", payout=pr.Payout(**values)))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(refused.value)


async def test_a_payout_is_cancelled_before_signing_and_never_paid(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, approval_threshold_usdt_base_units=1) as stack:
        created = await stack.create(amount=5_000_000)
        assert created.state == pr.PAYOUT_STATE_AWAITING_APPROVAL
        cancelled = await stack.stub.CancelPayout(pr.CancelPayoutRequest(payout_id=created.payout_id, reason="typo"))
        limits = await stack.stub.GetLimits(pr.GetLimitsRequest())
    assert cancelled.payout.state == pr.PAYOUT_STATE_CANCELLED
    assert not cancelled.payout.attempts
    (usdt,) = [entry for entry in limits.limits if entry.asset == 2]
    assert usdt.daily_used_base_units == 0


async def test_a_confirmed_payout_cannot_be_cancelled(mongo_url, redis_url, tmp_path: Path, chain: Devnet):
    async with payout_stack(mongo_url, redis_url, tmp_path, chain) as stack:
        created = await stack.create(amount=1_000_000)
        await stack.wait_for(created.payout_id, CONFIRMED)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stack.stub.CancelPayout(pr.CancelPayoutRequest(payout_id=created.payout_id))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_an_unknown_payout_is_not_found(mongo_url, redis_url, tmp_path: Path, chain: Devnet):
    async with payout_stack(mongo_url, redis_url, tmp_path, chain) as stack:
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await stack.get("po_" + "0" * 24)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_payout_the_wallet_refuses_to_sign_waits_without_blocking_the_others(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    policy = generous_policy(
        allowed_contracts=[chain.usdt_address],
        caps=[wallet_pb2.AssetCap(asset=USDT, per_transaction_max_base_units=5_000_000, daily_max_base_units=10**9)],
    )
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, spend_policy=policy) as stack:
        refused = await stack.create(amount=10_000_000)
        paid = await stack.create(amount=1_000_000)
        await stack.wait_for(paid.payout_id, CONFIRMED)
        waiting = await stack.get(refused.payout_id)
    assert waiting.state == pr.PAYOUT_STATE_APPROVED
    assert not waiting.attempts


async def test_a_payouts_events_reach_a_webhook_endpoint_of_payout_router_signed(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    async with Receiver() as receiver, payout_stack(
        mongo_url, redis_url, tmp_path, chain, webhook_poll_s=0.05
    ) as stack:
        hooks = webhooks_pb2_grpc.WebhookServiceStub(stack.channel)
        endpoint = await hooks.CreateWebhookEndpoint(
            webhooks_pb2.CreateWebhookEndpointRequest(request_id="hook-1", url=receiver.url)
        )
        created = await stack.create(amount=1_000_000)
        await stack.wait_for(created.payout_id, CONFIRMED)
        received = await receiver.received(3)

    bodies = [json.loads(request.body) for request in received]
    assert [body["type"] for body in bodies] == ["payout.created", "payout.broadcast", "payout.confirmed"]
    assert {body["data"]["payout_id"] for body in bodies} == {created.payout_id}
    for request in received:
        Webhook(endpoint.secret).verify(request.body, request.headers)


async def test_a_request_retried_after_its_key_was_forgotten_still_names_the_same_payout(
    mongo_url, redis_url, tmp_path: Path, chain: Devnet
):
    async with payout_stack(mongo_url, redis_url, tmp_path, chain, payout_wallet_id="") as stack:
        request = pr.CreatePayoutRequest(request_id=str(uuid.uuid4()),
                                         payout=pr.Payout(recipient=recipient(), asset=USDT, amount_base_units=5))
        first = (await stack.stub.CreatePayout(request)).payout
        batch = pr.CreatePayoutBatchRequest(request_id=str(uuid.uuid4()), batch=pr.PayoutBatch(payouts=[request.payout]))
        first_batch = (await stack.stub.CreatePayoutBatch(batch)).batch
        # Idempotency keys are kept 24 h; the payouts and batches, for good.
        client: AsyncMongoClient = AsyncMongoClient(mongo_url)
        try:
            await client[stack.settings.mongo_database]["idempotency_keys"].delete_many({})
        finally:
            await client.close()
        again = (await stack.stub.CreatePayout(request)).payout
        again_batch = (await stack.stub.CreatePayoutBatch(batch)).batch
        listed = await stack.stub.ListPayouts(pr.ListPayoutsRequest())
    assert again.payout_id == first.payout_id
    assert again_batch.batch_id == first_batch.batch_id
    assert [payout.payout_id for payout in again_batch.payouts] == [first_batch.payouts[0].payout_id]
    assert len(listed.payouts) == 2

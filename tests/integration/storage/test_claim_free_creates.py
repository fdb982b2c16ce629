"""Claim-free creates (IdempotencyKeys.record / stored / creating): the key goes in as done, with its response, in
the create's own transaction; a twin in flight is ABORTED, a replay answers the stored response, a reused key is
INVALID_ARGUMENT, and a create that does not commit leaves no key."""

from __future__ import annotations

import pytest

from integration.storage.test_idempotency_keys import created, payout_request
from lucid.tron.v1 import payout_router_pb2
from lucid_tron.errors import Aborted, InvalidArgument
from lucid_tron.storage import (
    IDEMPOTENCY_KEY_REUSED,
    REQUEST_IN_FLIGHT,
    IdempotencyKeys,
    IdempotencyKeyTaken,
    ensure_indexes,
    in_transaction,
)

METHOD = "CreatePayout"


@pytest.fixture
async def keys(mongo_db) -> IdempotencyKeys:
    await ensure_indexes(mongo_db, IdempotencyKeys.INDEXES)
    return IdempotencyKeys.in_database(mongo_db, service="payout-router")


async def create(mongo_db, keys: IdempotencyKeys, request: payout_router_pb2.CreatePayoutRequest,
                 payout_id: str) -> payout_router_pb2.CreatePayoutResponse:
    """A create as a service writes it: the key first, then its effect, in one transaction; a replay answers from
    the stored response."""
    response = created(payout_id)

    async def work(session) -> None:
        await keys.record(session, METHOD, request.request_id, request, response)
        await mongo_db.payouts.insert_one({"_id": payout_id}, session=session)

    try:
        await in_transaction(mongo_db.client, work)
    except IdempotencyKeyTaken:
        return payout_router_pb2.CreatePayoutResponse.FromString(
            await keys.stored(METHOD, request.request_id, request)
        )
    return response


async def test_a_replayed_create_answers_the_stored_response_and_writes_nothing(mongo_db, keys):
    first = await create(mongo_db, keys, payout_request(), "po-1")
    again = await create(mongo_db, keys, payout_request(), "po-2")

    assert again == first == created("po-1")
    assert [payout["_id"] async for payout in mongo_db.payouts.find({})] == ["po-1"]


async def test_a_create_reusing_a_key_for_a_different_request_is_invalid_argument(mongo_db, keys):
    await create(mongo_db, keys, payout_request(amount=1), "po-1")

    with pytest.raises(InvalidArgument) as caught:
        await create(mongo_db, keys, payout_request(amount=2), "po-2")

    assert caught.value.reason == IDEMPOTENCY_KEY_REUSED
    assert [violation.field for violation in caught.value.violations] == ["request_id"]


async def test_a_twin_meeting_the_uncommitted_key_of_another_transaction_is_aborted_in_flight(mongo_db, keys):
    other_process = IdempotencyKeys.in_database(mongo_db, service="payout-router")
    async with mongo_db.client.start_session() as first:
        await first.start_transaction()
        await other_process.record(first, METHOD, "req-1", payout_request(), created("po-1"))

        with pytest.raises(Aborted) as caught:
            await create(mongo_db, keys, payout_request(), "po-2")
        await first.commit_transaction()

    assert caught.value.reason == REQUEST_IN_FLIGHT
    assert caught.value.retry_after_s is not None and 0 < caught.value.retry_after_s <= 1.0
    assert await create(mongo_db, keys, payout_request(), "po-2") == created("po-1")
    assert await mongo_db.payouts.count_documents({}) == 0


async def test_a_create_that_does_not_commit_leaves_no_key_and_a_retry_runs_again(mongo_db, keys):
    async def fails_after_the_key(session) -> None:
        await keys.record(session, METHOD, "req-1", payout_request(), created("po-1"))
        raise RuntimeError("the effect failed")

    with pytest.raises(RuntimeError):
        await in_transaction(mongo_db.client, fails_after_the_key)

    assert await create(mongo_db, keys, payout_request(), "po-2") == created("po-2")


async def test_a_twin_in_the_same_process_is_aborted_at_once_and_one_with_another_body_is_invalid(keys):
    with keys.creating(METHOD, "req-1", payout_request(amount=1)):
        with pytest.raises(Aborted) as twin, keys.creating(METHOD, "req-1", payout_request(amount=1)):
            pass
        with pytest.raises(InvalidArgument) as other, keys.creating(METHOD, "req-1", payout_request(amount=2)):
            pass
        with keys.creating("CreatePayoutBatch", "req-1", payout_request(amount=1)):
            pass  # keys are per method
    with keys.creating(METHOD, "req-1", payout_request(amount=2)):
        pass  # free again once the first is over

    assert twin.value.reason == REQUEST_IN_FLIGHT
    assert other.value.reason == IDEMPOTENCY_KEY_REUSED


async def test_a_claim_free_create_without_a_request_id_is_invalid_argument(keys):
    with pytest.raises(InvalidArgument) as caught, keys.creating(METHOD, "", payout_request(request_id="")):
        pass

    assert [violation.field for violation in caught.value.violations] == ["request_id"]


async def test_reading_a_key_before_the_work_finds_nothing_for_a_new_request_and_the_answer_for_a_done_one(
    mongo_db, keys
):
    assert await keys.replay(METHOD, "req-1", payout_request()) is None
    await create(mongo_db, keys, payout_request(), "po-1")

    assert await keys.replay(METHOD, "req-1", payout_request()) == created("po-1").SerializeToString(deterministic=True)
    with pytest.raises(InvalidArgument):
        await keys.replay(METHOD, "req-1", payout_request(amount=2))

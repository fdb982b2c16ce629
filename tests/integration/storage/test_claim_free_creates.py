"""Claim-free creates (`embedded_key`, `embedded_replay`, IdempotencyKeys.creating): the key is fields of the record
the create inserts, in the create's own transaction; a replay answers the stored response, a reused key is
INVALID_ARGUMENT, a twin in flight waits for the first and answers the same, and a create that does not commit
leaves no key."""

from __future__ import annotations

import asyncio

import pytest
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from integration.storage.test_idempotency_keys import created, payout_request
from lucid.tron.v1 import payout_router_pb2
from lucid_tron.errors import Aborted, InvalidArgument
from lucid_tron.storage import (
    IDEMPOTENCY_KEY_REUSED,
    REQUEST_IN_FLIGHT,
    IdempotencyKeys,
    Insert,
    embedded_key,
    embedded_replay,
    ensure_indexes,
    in_transaction,
    write_together,
)

METHOD = "CreatePayout"


@pytest.fixture
async def keys(mongo_db) -> IdempotencyKeys:
    await ensure_indexes(mongo_db, {"payouts": [IndexModel("request_id", unique=True, name="request_id")]})
    return IdempotencyKeys.in_database(mongo_db, service="payout-router")


def record(request: payout_router_pb2.CreatePayoutRequest, payout_id: str) -> dict:
    return {"_id": payout_id, **embedded_key(request.request_id, request, created(payout_id))}


async def create(mongo_db, request: payout_router_pb2.CreatePayoutRequest,
                 payout_id: str) -> payout_router_pb2.CreatePayoutResponse:
    """A create as a service writes it: the record holding its key, in one transaction; a replay answers from the
    record's stored response."""

    async def work(session) -> None:
        await write_together(mongo_db, session, [Insert("payouts", record(request, payout_id))])

    try:
        await in_transaction(mongo_db.client, work)
    except DuplicateKeyError:
        first = await mongo_db.payouts.find_one({"request_id": request.request_id})
        return payout_router_pb2.CreatePayoutResponse.FromString(embedded_replay(first, request))
    return created(payout_id)


async def test_a_replayed_create_answers_the_stored_response_and_writes_nothing(mongo_db, keys):
    first = await create(mongo_db, payout_request(), "po-1")
    again = await create(mongo_db, payout_request(), "po-2")

    assert again == first == created("po-1")
    assert [payout["_id"] async for payout in mongo_db.payouts.find({})] == ["po-1"]


async def test_a_create_reusing_a_key_for_a_different_request_is_invalid_argument(mongo_db, keys):
    await create(mongo_db, payout_request(amount=1), "po-1")

    with pytest.raises(InvalidArgument) as caught:
        await create(mongo_db, payout_request(amount=2), "po-2")

    assert caught.value.reason == IDEMPOTENCY_KEY_REUSED
    assert [violation.field for violation in caught.value.violations] == ["request_id"]


async def test_a_twin_meeting_the_uncommitted_record_of_another_transaction_waits_and_answers_the_same(
    mongo_db, keys
):
    async with mongo_db.client.start_session() as first:
        await first.start_transaction()
        await write_together(mongo_db, first, [Insert("payouts", record(payout_request(), "po-1"))])
        twin = asyncio.create_task(create(mongo_db, payout_request(), "po-2"))
        await asyncio.sleep(0.3)
        assert not twin.done()  # its write conflicts with the uncommitted record: retried, not answered
        await first.commit_transaction()

    assert await asyncio.wait_for(twin, 10) == created("po-1")
    assert [payout["_id"] async for payout in mongo_db.payouts.find({})] == ["po-1"]


async def test_a_create_that_does_not_commit_leaves_no_key_and_a_retry_runs_again(mongo_db, keys):
    async def fails_after_the_record(session) -> None:
        await write_together(mongo_db, session, [Insert("payouts", record(payout_request(), "po-1"))])
        raise RuntimeError("the effect failed")

    with pytest.raises(RuntimeError):
        await in_transaction(mongo_db.client, fails_after_the_record)

    assert await create(mongo_db, payout_request(), "po-2") == created("po-2")


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
    with pytest.raises(InvalidArgument) as embedded:
        embedded_key("", payout_request(request_id=""), created("po-1"))

    assert [violation.field for violation in caught.value.violations] == ["request_id"]
    assert [violation.field for violation in embedded.value.violations] == ["request_id"]

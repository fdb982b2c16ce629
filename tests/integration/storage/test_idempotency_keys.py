"""Idempotency keys (AIP-155 request_id): replay, reuse refused, in-flight aborted, kept 24 h, freed after a crash."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from integration.storage.storage_processes import Worker
from integration.storage.storage_workers import CLAIM_LEASE_S
from lucid.tron.v1 import common_pb2, payout_router_pb2
from lucid_tron.errors import Aborted, InvalidArgument
from lucid_tron.storage import (
    IDEMPOTENCY_CLAIM_LOST,
    IDEMPOTENCY_KEY_REUSED,
    REQUEST_IN_FLIGHT,
    IdempotencyKeys,
    ensure_indexes,
    request_digest,
)


def payout_request(request_id: str = "req-1", amount: int = 1_000_000) -> payout_router_pb2.CreatePayoutRequest:
    return payout_router_pb2.CreatePayoutRequest(
        request_id=request_id,
        payout=payout_router_pb2.Payout(
            recipient="TJRabPrwbZy45sbavfcjinPJC18kjpRTv8", asset=common_pb2.ASSET_USDT, amount_base_units=amount
        ),
    )


def created(payout_id: str) -> payout_router_pb2.CreatePayoutResponse:
    return payout_router_pb2.CreatePayoutResponse(payout=payout_router_pb2.Payout(payout_id=payout_id))


@pytest.fixture
async def keys(mongo_db) -> IdempotencyKeys:
    await ensure_indexes(mongo_db, IdempotencyKeys.INDEXES)
    return IdempotencyKeys.in_database(mongo_db, service="payout-router")


class CountingWork:
    """The work behind a request: counts its runs, answers a new payout each time."""

    def __init__(self) -> None:
        self.runs = 0

    async def __call__(self) -> payout_router_pb2.CreatePayoutResponse:
        self.runs += 1
        return created(f"po-{self.runs}")


async def test_the_same_key_and_request_replays_the_stored_response_without_running_the_work_again(keys):
    work = CountingWork()
    first = await keys.run("CreatePayout", "req-1", payout_request(), work, payout_router_pb2.CreatePayoutResponse)
    again = await keys.run("CreatePayout", "req-1", payout_request(), work, payout_router_pb2.CreatePayoutResponse)

    assert again == first == created("po-1")
    assert work.runs == 1


async def test_the_same_key_with_a_different_request_is_invalid_argument_naming_request_id(keys):
    work = CountingWork()
    await keys.run("CreatePayout", "req-1", payout_request(amount=1), work, payout_router_pb2.CreatePayoutResponse)

    with pytest.raises(InvalidArgument) as caught:
        await keys.run("CreatePayout", "req-1", payout_request(amount=2), work, payout_router_pb2.CreatePayoutResponse)

    assert caught.value.reason == IDEMPOTENCY_KEY_REUSED
    assert [violation.field for violation in caught.value.violations] == ["request_id"]
    assert work.runs == 1


async def test_a_duplicate_while_the_first_is_running_is_aborted_with_a_retry_delay(mongo_db, keys):
    release = asyncio.Event()

    async def slow_work() -> payout_router_pb2.CreatePayoutResponse:
        await release.wait()
        return created("po-1")

    first = asyncio.create_task(
        keys.run("CreatePayout", "req-1", payout_request(), slow_work, payout_router_pb2.CreatePayoutResponse)
    )
    while not await mongo_db[IdempotencyKeys.COLLECTION].find_one({}):  # the first has claimed the key
        await asyncio.sleep(0.01)

    with pytest.raises(Aborted) as caught:
        await keys.begin("CreatePayout", "req-1", payout_request())
    release.set()

    assert caught.value.reason == REQUEST_IN_FLIGHT
    assert caught.value.retry_after_s is not None and 0 < caught.value.retry_after_s <= 1.0
    assert await first == created("po-1")


async def test_keys_are_scoped_per_service_and_method(mongo_db, keys):
    other_service = IdempotencyKeys.in_database(mongo_db, service="staking")
    work = CountingWork()
    response = payout_router_pb2.CreatePayoutResponse
    await keys.run("CreatePayout", "req-1", payout_request(), work, response)
    await keys.run("CreatePayoutBatch", "req-1", payout_request(), work, response)
    await other_service.run("CreatePayout", "req-1", payout_request(), work, response)

    assert work.runs == 3


async def test_a_failed_request_frees_its_key_for_a_retry(keys):
    async def failing_work() -> payout_router_pb2.CreatePayoutResponse:
        raise RuntimeError("tron-client went away")

    with pytest.raises(RuntimeError):
        await keys.run("CreatePayout", "req-1", payout_request(), failing_work, payout_router_pb2.CreatePayoutResponse)
    work = CountingWork()

    assert await keys.run(
        "CreatePayout", "req-1", payout_request(), work, payout_router_pb2.CreatePayoutResponse
    ) == created("po-1")


async def test_a_key_is_kept_at_least_24_hours_by_a_ttl_index(mongo_db, keys):
    await keys.run("CreatePayout", "req-1", payout_request(), CountingWork(), payout_router_pb2.CreatePayoutResponse)

    stored = await mongo_db[IdempotencyKeys.COLLECTION].find_one({})
    indexes = {index["name"]: index async for index in await mongo_db[IdempotencyKeys.COLLECTION].list_indexes()}
    assert stored["expires_at"] >= datetime.now(UTC) + timedelta(hours=24) - timedelta(minutes=1)
    assert indexes["expire"]["key"] == {"expires_at": 1}
    assert indexes["expire"]["expireAfterSeconds"] == 0


async def test_a_missing_request_id_is_invalid_argument(keys):
    with pytest.raises(InvalidArgument) as caught:
        await keys.begin("CreatePayout", "", payout_request(request_id=""))

    assert [violation.field for violation in caught.value.violations] == ["request_id"]


async def test_a_claim_taken_over_after_its_lease_cannot_store_its_response(mongo_db):
    keys = IdempotencyKeys.in_database(mongo_db, service="s", lease_s=0.2)
    stale = await keys.begin("Pay", "req-1", {"amount_sun": 5})
    await asyncio.sleep(0.3)
    await keys.begin("Pay", "req-1", {"amount_sun": 5})

    with pytest.raises(Aborted) as caught:
        await keys.complete(stale, created("po-stale"))

    assert caught.value.reason == IDEMPOTENCY_CLAIM_LOST


async def test_a_key_claimed_by_a_process_killed_mid_request_is_free_again_after_the_lease(mongo_url, mongo_db):
    worker = Worker("claim", mongo_url, mongo_db.name)
    try:
        await worker.reported("claimed")
    finally:
        worker.kill()
    keys = IdempotencyKeys.in_database(mongo_db, service="s")
    with pytest.raises(Aborted):
        await keys.begin("Pay", "request-1", {"amount_sun": 5})

    began = time.monotonic()
    while True:
        try:
            call = await keys.begin("Pay", "request-1", {"amount_sun": 5})
            break
        except Aborted as busy:
            await asyncio.sleep(busy.retry_after_s or 0.1)

    assert call.replay is None  # the work runs again: the killed process never completed it
    assert time.monotonic() - began <= CLAIM_LEASE_S + 0.5


def test_the_request_digest_ignores_the_request_id_and_nothing_else():
    assert request_digest(payout_request("a")) == request_digest(payout_request("b"))
    assert request_digest(payout_request(amount=1)) != request_digest(payout_request(amount=2))
    assert request_digest({"request_id": "a", "x": 1, "y": 2}) == request_digest({"y": 2, "x": 1, "request_id": "b"})
    assert request_digest({"x": 1}) != request_digest({"x": 2})

"""What a caller of a real gRPC service sees of its store: a hung MongoDB is UNAVAILABLE within the call's deadline,
and the idempotency contract's statuses carry their reason, field and retry delay."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2

from integration.mesh.mesh_testkit import details_of, generic_service, rich_status, unary_unary
from integration.storage.storage_processes import paused
from lucid_tron.mesh import ServiceSettings, ServiceSpec, serving
from lucid_tron.storage import IdempotencyKeys, MongoSettings, MoneyStore

SERVICE = "test.storage.Ledger"


class LedgerStore(MoneyStore):
    service = "ledger-test"


class Payouts:
    """A servicer over raw bytes: `Count` reads MongoDB; `Pay` is idempotent on the request id sent before `:`."""

    def __init__(self, store: LedgerStore) -> None:
        self.store = store
        self.release = asyncio.Event()

    async def count(self, request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        with self.store.bounded():
            return str(await self.store.collection("payouts").count_documents({})).encode()

    async def pay(self, request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        request_id, _, amount = request.decode().partition(":")
        call = await self.store.idempotency_keys.begin("Pay", request_id, {"amount_sun": int(amount)})
        if call.replay is not None:
            return call.replay
        await self.release.wait()
        await self.store.idempotency_keys.complete(call, b"paid")
        return b"paid"


@pytest.fixture(scope="module")
async def payouts(pausable_mongo) -> AsyncIterator[Payouts]:
    store = LedgerStore(MongoSettings(mongo_url=pausable_mongo.url, mongo_database=f"test_{uuid.uuid4().hex[:12]}"))
    await store.open()
    yield Payouts(store)
    await store.close()


@pytest.fixture(scope="module")
async def channel(payouts: Payouts) -> AsyncIterator[grpc.aio.Channel]:
    spec = ServiceSpec(
        name="ledger-test",
        services=[generic_service(SERVICE, {"Count": unary_unary(payouts.count), "Pay": unary_unary(payouts.pay)})],
    )
    async with (
        serving(spec, ServiceSettings(port=0, insecure_plaintext=True)) as server,
        grpc.aio.insecure_channel(server.address) as opened,
    ):
        yield opened


async def failed(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


async def test_a_hung_mongo_answers_unavailable_within_the_callers_deadline(channel, pausable_mongo):
    count = channel.unary_unary(f"/{SERVICE}/Count")
    assert await count(b"") == b"0"  # connected before the hang

    with paused(pausable_mongo):
        began = time.monotonic()
        error = await failed(count(b"", timeout=0.5))
        elapsed = time.monotonic() - began

    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert details_of(rich_status(error))["ErrorInfo"].reason == "MONGO_UNAVAILABLE"
    assert elapsed < 0.6


async def test_a_reused_request_id_is_invalid_argument_naming_request_id(channel, payouts):
    pay = channel.unary_unary(f"/{SERVICE}/Pay")
    payouts.release.set()
    assert await pay(b"req-reused:5") == b"paid"

    error = await failed(pay(b"req-reused:6"))

    details = details_of(rich_status(error))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details["ErrorInfo"].reason == "IDEMPOTENCY_KEY_REUSED"
    assert [violation.field for violation in details["BadRequest"].field_violations] == ["request_id"]


async def test_a_retry_while_the_first_call_runs_is_aborted_with_retry_info(channel, payouts):
    pay = channel.unary_unary(f"/{SERVICE}/Pay")
    payouts.release.clear()
    first = pay(b"req-running:5")
    while not await payouts.store.collection(IdempotencyKeys.COLLECTION).find_one({"state": "running"}):
        await asyncio.sleep(0.01)

    error = await failed(pay(b"req-running:5"))
    payouts.release.set()

    details = details_of(rich_status(error))
    assert error.code() == grpc.StatusCode.ABORTED
    assert details["ErrorInfo"].reason == "REQUEST_IN_FLIGHT"
    assert isinstance(details["RetryInfo"], error_details_pb2.RetryInfo)
    assert 0 < details["RetryInfo"].retry_delay.ToNanoseconds() <= 1_000_000_000
    assert await first == b"paid"
    assert await pay(b"req-running:5") == b"paid"

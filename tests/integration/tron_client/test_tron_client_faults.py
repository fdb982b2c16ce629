"""TronGrid down, throttled or slow: tron-client answers UNAVAILABLE within the caller's deadline, end to end
(gRPC deadline -> mesh deadlines -> TronGrid client retries and breaker -> devnet fault injection)."""

from __future__ import annotations

import time

import grpc
import pytest
from google.rpc import error_details_pb2

from integration.mesh.mesh_testkit import details_of, rich_status
from fixtures.rpc_errors import error_reason
from fixtures.transactions import requests_to, signed
from integration.tron_client.tron_client_kit import start_tron_client
from lucid.tron.v1 import tron_client_pb2 as pb
from lucid_tron.chain import transfer_contract

DEADLINE_S = 1.5


async def unavailable_within_deadline(call, request) -> grpc.aio.AioRpcError:
    """Make the call with DEADLINE_S; assert it failed UNAVAILABLE (not DEADLINE_EXCEEDED) before the deadline."""
    began = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call(request, timeout=DEADLINE_S)
    elapsed = time.monotonic() - began
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE, (raised.value.code(), raised.value.details())
    assert elapsed < DEADLINE_S
    return raised.value


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_server_error_from_trongrid_is_unavailable_within_the_deadline(tron_client, devnet, status):
    devnet.faults.add(status=status)
    await unavailable_within_deadline(tron_client.stub.GetNowBlock, pb.GetNowBlockRequest())


async def test_throttling_is_unavailable_within_the_deadline(tron_client, devnet):
    devnet.faults.add(status=429)
    error = await unavailable_within_deadline(tron_client.stub.GetChainParameters, pb.GetChainParametersRequest())
    assert error_reason(error) == "TRONGRID_THROTTLED"


async def test_throttling_with_a_long_retry_after_fails_at_once_and_says_when_to_retry(tron_client, devnet):
    devnet.faults.add(status=429, retry_after_s=60)
    began = time.monotonic()

    error = await unavailable_within_deadline(tron_client.stub.GetNowBlock, pb.GetNowBlockRequest())

    assert time.monotonic() - began < 0.5
    retry = details_of(rich_status(error))["RetryInfo"]
    assert isinstance(retry, error_details_pb2.RetryInfo) and retry.retry_delay.seconds >= 59


async def test_a_trongrid_slower_than_the_deadline_is_unavailable_before_it(tron_client, devnet):
    devnet.faults.add(latency_ms=2_000)
    error = await unavailable_within_deadline(tron_client.stub.GetNowBlock, pb.GetNowBlockRequest())
    assert error_reason(error) == "TRONGRID_TIMEOUT"


async def test_dropped_connections_are_unavailable_within_the_deadline(tron_client, devnet, devnet_accounts):
    devnet.faults.add(drop=1.0)
    request = pb.GetAccountRequest(address=devnet_accounts[0].address)
    await unavailable_within_deadline(tron_client.stub.GetAccount, request)


async def test_a_broadcast_while_trongrid_fails_is_unavailable_and_safe_to_repeat(tron_client, devnet, devnet_accounts):
    payer = devnet_accounts[0]
    tx = signed(devnet, payer.key, transfer_contract(payer.address, devnet_accounts[1].address, 1))
    request = pb.BroadcastTransactionRequest(raw_data=tx.raw_data.SerializeToString(), signatures=tx.signature)
    devnet.faults.add(status=503, paths=("/wallet/broadcasthex",), count=50)
    await unavailable_within_deadline(tron_client.stub.BroadcastTransaction, request)

    devnet.faults.clear()
    assert not (await tron_client.stub.BroadcastTransaction(request)).duplicate


async def test_a_trongrid_that_keeps_failing_opens_the_breaker_and_calls_fail_fast_without_a_request(
    tron_client, devnet
):
    devnet.faults.add(status=503)
    for _ in range(3):  # each call makes up to 4 attempts; 5 failures in a row open the breaker
        await unavailable_within_deadline(tron_client.stub.GetNowBlock, pb.GetNowBlockRequest())
    requests = requests_to(devnet, "/walletsolidity/getnowblock")

    began = time.monotonic()
    error = await unavailable_within_deadline(tron_client.stub.GetNowBlock, pb.GetNowBlockRequest())

    assert error_reason(error) == "TRONGRID_CIRCUIT_OPEN"
    assert time.monotonic() - began < 0.2 and requests.matched == 0


async def test_after_a_fault_clears_reads_work_again(tron_client, devnet):
    devnet.faults.add(status=503, count=2)
    assert (await tron_client.stub.GetNowBlock(pb.GetNowBlockRequest(), timeout=5)).block.number == 0


async def test_a_call_without_a_deadline_is_bounded_by_the_services_call_timeout(devnet):
    async with start_tron_client(devnet, call_timeout_s=0.5) as client:
        devnet.faults.add(latency_ms=1_500)
        began = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await client.stub.GetNowBlock(pb.GetNowBlockRequest())  # no deadline

    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE and time.monotonic() - began < 1.0

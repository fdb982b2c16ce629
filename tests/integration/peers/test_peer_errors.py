"""What a caller's own caller sees when a peer fails: the status that describes the caller's situation.

Two hops over real sockets (peer_kit): client -> caller (a mesh service) -> peer (WalletService), the peer answering
each status a test picks, with the details a mesh service would attach.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import pytest
from google.rpc import error_details_pb2

from integration.mesh.mesh_testkit import details_of, rich_status
from integration.peers.peer_kit import HANGS, Peer, caller_of, failure, peer_server, reason, retry_in
from lucid.tron.v1 import wallet_pb2
from lucid_tron.context import REQUEST_ID_HEADER
from lucid_tron.mesh import PEER_UNAVAILABLE
from lucid_tron.testing import free_port

Call = Callable[..., Awaitable[bytes]]
PEER = Peer(
    failures={
        "unavailable": failure(
            grpc.StatusCode.UNAVAILABLE, "MongoDB is unavailable", reason("MONGO_UNAVAILABLE"), retry_in(3)
        ),
        "deadline": failure(grpc.StatusCode.DEADLINE_EXCEEDED, "too slow"),
        "bad-request": failure(
            grpc.StatusCode.INVALID_ARGUMENT,
            "wallet_id: must be 32 hex digits",
            reason("INVALID_ARGUMENT"),
            error_details_pb2.BadRequest(
                field_violations=[error_details_pb2.BadRequest.FieldViolation(field="wallet_id", description="hex")]
            ),
        ),
        "not-found": failure(
            grpc.StatusCode.NOT_FOUND,
            "wallet 'w1' not found",
            reason("WALLET_NOT_FOUND"),
            error_details_pb2.ResourceInfo(resource_type="wallet", resource_name="w1"),
        ),
        "precondition": failure(
            grpc.StatusCode.FAILED_PRECONDITION,
            "the account is not activated",
            reason("ACCOUNT_NOT_ACTIVATED"),
            error_details_pb2.PreconditionFailure(
                violations=[
                    error_details_pb2.PreconditionFailure.Violation(type="ACCOUNT_NOT_ACTIVATED", subject="TAddr")
                ]
            ),
        ),
        "denied": failure(grpc.StatusCode.PERMISSION_DENIED, "not allowed", reason("ACL_DENIED")),
        "exhausted": failure(grpc.StatusCode.RESOURCE_EXHAUSTED, "daily limit reached", reason("DAILY_LIMIT")),
        "aborted": failure(grpc.StatusCode.ABORTED, "a concurrent change won", reason("CONCURRENT_CHANGE")),
        "internal": failure(grpc.StatusCode.INTERNAL, "internal error (request_id=abc)", reason("INTERNAL")),
        "unknown": failure(grpc.StatusCode.UNKNOWN, "Exception calling application: boom"),
        "unimplemented": failure(grpc.StatusCode.UNIMPLEMENTED, "GetWallet is not implemented"),
        "already-exists": failure(grpc.StatusCode.ALREADY_EXISTS, "wallet exists"),
    }
)


@pytest.fixture(scope="module")
async def call() -> AsyncIterator[Call]:
    async with peer_server(PEER) as address, caller_of(address) as calling:
        yield calling


async def failed(call: Call, wallet_id: str, **kwargs: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(wallet_id.encode(), **kwargs)
    return caught.value


async def test_a_peers_answer_reaches_the_caller_typed(call: Call) -> None:
    response = wallet_pb2.GetWalletResponse.FromString(await call(b"w1"))
    assert response.wallet.wallet_id == "w1" and response.wallet.address_count == 1


async def test_a_peer_that_is_unavailable_makes_the_caller_unavailable_with_the_peers_retry_info(call: Call) -> None:
    error = await failed(call, "unavailable")
    details = details_of(rich_status(error))
    assert error.code() is grpc.StatusCode.UNAVAILABLE
    assert details["ErrorInfo"].reason == PEER_UNAVAILABLE
    assert "wallet-manager" in error.details()
    assert details["RetryInfo"].retry_delay.seconds == 3


async def test_a_peers_deadline_exceeded_makes_the_caller_unavailable(call: Call) -> None:
    error = await failed(call, "deadline")
    assert error.code() is grpc.StatusCode.UNAVAILABLE
    assert details_of(rich_status(error))["ErrorInfo"].reason == PEER_UNAVAILABLE


async def test_a_peer_nobody_listens_for_makes_the_caller_unavailable() -> None:
    async with caller_of(f"127.0.0.1:{free_port()}") as call:
        error = await failed(call, "w1", timeout=5.0)
    assert error.code() is grpc.StatusCode.UNAVAILABLE
    assert details_of(rich_status(error))["ErrorInfo"].reason == PEER_UNAVAILABLE


async def test_a_peers_invalid_argument_is_the_callers_bug_internal_with_the_request_id(
    call: Call, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="lucid_tron.mesh.errors"):
        error = await failed(call, "bad-request", metadata=((REQUEST_ID_HEADER, "req-bad-request"),))
    assert error.code() is grpc.StatusCode.INTERNAL
    assert details_of(rich_status(error))["RequestInfo"].request_id == "req-bad-request"
    assert "wallet_id" not in error.details()  # the peer's words stay in the log
    logged = "\n".join(record.getMessage() + str(record.exc_info and record.exc_info[1]) for record in caplog.records)
    assert "INVALID_ARGUMENT" in logged and "wallet_id: must be 32 hex digits" in logged and "BadRequest" in logged


async def test_a_peers_not_found_is_kept_with_its_reason_and_resource(call: Call) -> None:
    error = await failed(call, "not-found")
    details = details_of(rich_status(error))
    assert error.code() is grpc.StatusCode.NOT_FOUND
    assert details["ErrorInfo"].reason == "WALLET_NOT_FOUND"
    assert (details["ResourceInfo"].resource_type, details["ResourceInfo"].resource_name) == ("wallet", "w1")


async def test_a_peers_failed_precondition_is_kept_with_its_reason_and_subject(call: Call) -> None:
    error = await failed(call, "precondition")
    details = details_of(rich_status(error))
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert details["ErrorInfo"].reason == "ACCOUNT_NOT_ACTIVATED"
    assert details["PreconditionFailure"].violations[0].subject == "TAddr"


@pytest.mark.parametrize(
    ("wallet_id", "code", "expected_reason"),
    [
        ("denied", grpc.StatusCode.PERMISSION_DENIED, "ACL_DENIED"),
        ("exhausted", grpc.StatusCode.RESOURCE_EXHAUSTED, "DAILY_LIMIT"),
        ("aborted", grpc.StatusCode.ABORTED, "CONCURRENT_CHANGE"),
    ],
)
async def test_a_peers_status_the_caller_can_act_on_is_kept_with_its_reason(
    call: Call, wallet_id: str, code: grpc.StatusCode, expected_reason: str
) -> None:
    error = await failed(call, wallet_id)
    assert error.code() is code
    assert details_of(rich_status(error))["ErrorInfo"].reason == expected_reason
    assert error.details() == PEER.failures[wallet_id].message


@pytest.mark.parametrize("wallet_id", ["internal", "unknown", "unimplemented", "already-exists"])
async def test_any_other_peer_failure_is_internal_with_the_callers_request_id(call: Call, wallet_id: str) -> None:
    error = await failed(call, wallet_id, metadata=((REQUEST_ID_HEADER, f"req-{wallet_id}"),))
    assert error.code() is grpc.StatusCode.INTERNAL
    assert details_of(rich_status(error))["RequestInfo"].request_id == f"req-{wallet_id}"


async def test_a_peer_that_hangs_makes_the_caller_unavailable_within_its_own_deadline(call: Call) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    error = await failed(call, HANGS, timeout=1.0)
    elapsed = loop.time() - started
    assert error.code() is grpc.StatusCode.UNAVAILABLE
    assert details_of(rich_status(error))["ErrorInfo"].reason == PEER_UNAVAILABLE
    assert 0.8 < elapsed < 1.0

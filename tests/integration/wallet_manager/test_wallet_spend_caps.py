"""Daily caps counted atomically in MongoDB: concurrent signatures over real gRPC never pass the cap, a retried
signature of the same transaction counts once, and a refusal says how much is left."""

from __future__ import annotations

import asyncio
import time

import grpc

from fixtures.rpc_errors import error_reason, quota_violation
from integration.wallet_manager.wallet_kit import Running, create_hd, sign_request, trx_caps, trx_transfer
from lucid.tron.v1 import wallet_pb2


async def test_concurrent_signatures_never_pass_the_daily_cap(running: Running) -> None:
    wallet = await create_hd(running.stub, spend_policy=trx_caps(10, 205))
    soon = int(time.time() * 1000) + 60_000
    # Sixty distinct transactions (their expirations differ by a millisecond), ten base units each.
    requests = [sign_request(wallet.wallet_id, *trx_transfer(wallet.first_address, 10, expiration_ms=soon + n))
                for n in range(60)]

    answers = await asyncio.gather(*(running.stub.SignTransaction(r) for r in requests), return_exceptions=True)

    signed = [a for a in answers if isinstance(a, wallet_pb2.SignTransactionResponse)]
    refused = [a for a in answers if isinstance(a, grpc.aio.AioRpcError)]
    assert len(signed) == 20
    assert len(refused) == 40
    assert {error_reason(error) for error in refused} == {"DAILY_CAP"}
    assert quota_violation(refused[0]).description == "5 base units left today (UTC)"


async def test_a_retried_signature_of_the_same_transaction_counts_once(running: Running) -> None:
    wallet = await create_hd(running.stub, spend_policy=trx_caps(10, 10))
    request = sign_request(wallet.wallet_id, *trx_transfer(wallet.first_address, 10))

    answers = await asyncio.gather(*(running.stub.SignTransaction(request) for _ in range(10)))
    later = await running.stub.SignTransaction(request)

    assert {answer.signature for answer in answers} == {later.signature}


async def test_a_cap_reached_answers_resource_exhausted_with_the_headroom_left(running: Running) -> None:
    wallet = await create_hd(running.stub, spend_policy=trx_caps(100, 150))
    await running.stub.SignTransaction(sign_request(wallet.wallet_id, *trx_transfer(wallet.first_address, 100)))

    try:
        await running.stub.SignTransaction(sign_request(wallet.wallet_id, *trx_transfer(wallet.first_address, 60)))
    except grpc.aio.AioRpcError as refused:
        assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "50 left today" in (refused.details() or "")
        assert quota_violation(refused).subject == f"wallet:{wallet.wallet_id}:TRX:daily"
    else:
        raise AssertionError("a signature past the daily cap was given")
    fits = await running.stub.SignTransaction(sign_request(wallet.wallet_id, *trx_transfer(wallet.first_address, 50)))
    assert fits.signature

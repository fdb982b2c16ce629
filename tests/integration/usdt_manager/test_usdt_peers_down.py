"""A peer down makes usdt-manager UNAVAILABLE at once (no hang), and a write that could not finish sends nothing."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from fixtures.rpc_errors import error_reason
from integration.usdt_manager.usdt_kit import NOBODY, UsdtStack, usdt_stack
from lucid.tron.v1 import usdt_pb2

S = usdt_pb2
#: Far under the peers' 30 s default timeout: a peer that is down must not be waited for.
FAST_S = 3.0


async def unavailable_fast(call, request) -> grpc.aio.AioRpcError:
    began = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call(request, timeout=20)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE, raised.value.details()
    assert time.monotonic() - began < FAST_S
    return raised.value


@pytest.fixture
def started(devnet, mongo_url: str, chain_redis_url: str, tmp_path: Path):
    def start(**peers: str):
        return usdt_stack(devnet, mongo_url, chain_redis_url, tmp_path, **peers)

    return start


async def test_tron_client_down_makes_reads_and_writes_unavailable(started) -> None:
    async with started(tron_client_addr=NOBODY) as stack:
        balance = await unavailable_fast(stack.stub.GetBalance, S.GetBalanceRequest(address=stack.sender))
        await unavailable_fast(stack.stub.Transfer, stack.transfer_request(stack.activated_address(usdt=1), 1))
        await unavailable_fast(
            stack.stub.EstimateTransfer,
            S.EstimateTransferRequest(from_address=stack.sender, to_address=stack.activated_address(),
                                      amount_base_units=1),
        )
        assert error_reason(balance) == "PEER_UNAVAILABLE"
        assert stack.devnet.produce_block().txids == ()


async def test_wallet_manager_down_makes_a_transfer_unavailable_and_sends_nothing(started) -> None:
    async with started(wallet_addr=NOBODY) as stack:
        await unavailable_fast(stack.stub.Transfer, stack.transfer_request(stack.activated_address(usdt=1), 1_000_000))
        assert stack.devnet.produce_block().txids == ()


async def test_tron_relay_down_makes_history_unavailable(started) -> None:
    async with started(relay_addr=NOBODY) as stack:
        await unavailable_fast(stack.stub.ListTransfers, S.ListTransfersRequest(address=stack.sender))


async def test_trongrid_down_behind_tron_client_is_unavailable_not_a_hang(stack: UsdtStack) -> None:
    stack.devnet.faults.add(status=503)
    began = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.GetBalance(S.GetBalanceRequest(address=stack.sender), timeout=5)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert time.monotonic() - began < 5

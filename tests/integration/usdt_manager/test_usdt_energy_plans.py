"""usdt-manager with staking (STAKING_ADDR): each Transfer gets an energy plan before it is signed and carries its fee
limit; once the transfer is in a block the plan is completed (a delegation taken back), and the transfer's status and
history show what it cost. Staking down is UNAVAILABLE at once, with nothing sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest

from fixtures.rpc_errors import error_reason
from integration.staking.energy_kit import EnergyStack, energy_stack
from integration.usdt_manager.usdt_kit import NOBODY, UsdtStack, usdt_stack
from lucid.tron.v1 import staking_pb2, usdt_pb2
from lucid_tron.devnet import Devnet

S = usdt_pb2


@asynccontextmanager
async def with_staking(
    devnet: Devnet, mongo_url: str, redis_url: str, tmp_path: Path, **staking: Any
) -> AsyncIterator[tuple[UsdtStack, EnergyStack]]:
    for part in ("staking", "usdt"):
        (tmp_path / part).mkdir()
    async with energy_stack(devnet, mongo_url, tmp_path / "staking", **staking) as energy:
        async with usdt_stack(devnet, mongo_url, redis_url, tmp_path / "usdt", staking_addr=energy.server.address) as usdt:
            yield usdt, energy


async def transfer_status(stack: UsdtStack, txid: str) -> usdt_pb2.UsdtTransfer:
    return (await stack.stub.GetTransfer(S.GetTransferRequest(txid=txid))).transfer


async def test_a_transfer_without_energy_uses_a_delegation_shows_its_cost_and_ends_with_nothing_delegated(
    devnet: Devnet, mongo_url: str, chain_redis_url: str, tmp_path: Path
) -> None:
    async with with_staking(devnet, mongo_url, chain_redis_url, tmp_path) as (usdt, energy):
        holder = usdt.activated_address("holder", usdt=1)

        sent = (await energy.produce_while(usdt.stub.Transfer(usdt.transfer_request(holder, 2_000_000)))).transfer
        plan = await energy.get_plan(sent.energy_plan_id)
        usdt.settle()
        confirmed = await transfer_status(usdt, sent.txid)
        async with asyncio.timeout(30):
            while (done := await transfer_status(usdt, sent.txid)).energy_plan_trx_burned_sun == 0:
                devnet.produce_block()
                await asyncio.sleep(0.05)
        completed = await energy.get_plan(sent.energy_plan_id)
        staking_out = (await energy.resources(energy.staking_address)).delegated_energy_out_sun
        usdt.settle()
        history = (await usdt.stub.ListTransfers(S.ListTransfersRequest(address=holder))).transfers

    assert sent.energy_source == staking_pb2.ENERGY_SOURCE_DELEGATED
    assert sent.fee_limit_sun == plan.fee_limit_sun and plan.delegated_sun == sent.energy_delegated_sun > 0
    assert confirmed.state == S.TRANSFER_STATE_CONFIRMED
    assert confirmed.energy_used > 0 and confirmed.fee_sun == 0 and confirmed.bandwidth_used > 0
    assert completed.state == staking_pb2.ENERGY_PLAN_STATE_COMPLETED
    assert (completed.transfer_txid, completed.energy_used) == (sent.txid, confirmed.energy_used)
    assert done.energy_plan_trx_burned_sun == completed.plan_trx_burned_sun
    assert staking_out == 0
    [listed] = [entry for entry in history if entry.txid == sent.txid]
    assert (listed.energy_source, listed.energy_used, listed.fee_sun, listed.bandwidth_used) == (
        staking_pb2.ENERGY_SOURCE_DELEGATED, confirmed.energy_used, 0, confirmed.bandwidth_used
    )


async def test_a_transfer_the_plan_cannot_pay_for_is_refused_and_nothing_is_sent(
    devnet: Devnet, mongo_url: str, chain_redis_url: str, tmp_path: Path
) -> None:
    async with with_staking(devnet, mongo_url, chain_redis_url, tmp_path, energy_delegation=False) as (usdt, _):
        request = usdt.transfer_request(usdt.activated_address(usdt=1), 1_000_000, fee_limit_sun=1_000_000)

        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await usdt.stub.Transfer(request)

        assert devnet.produce_block().txids == ()
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "ENERGY_UNAVAILABLE"


async def test_staking_down_makes_a_transfer_unavailable_at_once_and_sends_nothing(
    devnet: Devnet, mongo_url: str, chain_redis_url: str, tmp_path: Path
) -> None:
    async with usdt_stack(devnet, mongo_url, chain_redis_url, tmp_path, staking_addr=NOBODY) as usdt:
        began = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await usdt.stub.Transfer(usdt.transfer_request(usdt.activated_address(usdt=1), 1_000_000), timeout=20)
        elapsed = time.monotonic() - began

        assert devnet.produce_block().txids == ()
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert elapsed < 3.0

"""ListTransfers on devnet, through tron-relay: an address's USDT transfers newest first, paged, by direction, time
range and finality; page tokens bound to their filters."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf import timestamp_pb2

from fixtures.rpc_errors import field_violations
from integration.usdt_manager.usdt_kit import UsdtStack
from lucid.tron.v1 import common_pb2, usdt_pb2

S = usdt_pb2


async def send_in_blocks(stack: UsdtStack, to: str, amounts: list[int]) -> list[int]:
    """Each transfer in its own block, a few ms apart; the blocks' timestamps (ms). Then solidified."""
    stamps = []
    for amount in amounts:
        await stack.stub.Transfer(stack.transfer_request(to, amount))
        stamps.append(stack.devnet.produce_block().timestamp)
        await asyncio.sleep(0.01)
    stack.devnet.solidify()
    return stamps


async def every_page(stack: UsdtStack, request: usdt_pb2.ListTransfersRequest) -> list[list[usdt_pb2.HistoryTransfer]]:
    pages = []
    while True:
        page = await stack.stub.ListTransfers(request)
        pages.append(list(page.transfers))
        if not page.next_page_token:
            return pages
        request.page_token = page.next_page_token


async def test_history_pages_newest_first(stack: UsdtStack) -> None:
    holder = stack.activated_address(usdt=1)
    await send_in_blocks(stack, holder, [1_000_000, 2_000_000, 3_000_000, 4_000_000, 5_000_000])

    pages = await every_page(stack, S.ListTransfersRequest(address=holder, page_size=2))

    assert [len(page) for page in pages if page] == [2, 2, 1]
    listed = [entry for page in pages for entry in page]
    assert [e.amount_base_units for e in listed] == [5_000_000, 4_000_000, 3_000_000, 2_000_000, 1_000_000]
    assert {(e.from_address, e.to_address, e.direction) for e in listed} == {
        (stack.sender, holder, S.TRANSFER_DIRECTION_INCOMING)
    }
    assert len({e.txid for e in listed}) == 5


async def test_history_filters_by_direction(stack: UsdtStack) -> None:
    holder = stack.activated_address(usdt=1)
    await send_in_blocks(stack, holder, [1_000_000, 2_000_000])

    outgoing = await stack.stub.ListTransfers(
        S.ListTransfersRequest(address=stack.sender, direction=S.TRANSFER_DIRECTION_OUTGOING)
    )
    incoming = await stack.stub.ListTransfers(
        S.ListTransfersRequest(address=stack.sender, direction=S.TRANSFER_DIRECTION_INCOMING)
    )

    assert [e.amount_base_units for e in outgoing.transfers] == [2_000_000, 1_000_000]
    assert {e.direction for e in outgoing.transfers} == {S.TRANSFER_DIRECTION_OUTGOING}
    assert list(incoming.transfers) == []


async def test_history_keeps_to_the_time_range(stack: UsdtStack) -> None:
    holder = stack.activated_address(usdt=1)
    stamps = await send_in_blocks(stack, holder, [1_000_000, 2_000_000, 3_000_000, 4_000_000])
    start, end = timestamp_pb2.Timestamp(), timestamp_pb2.Timestamp()
    start.FromMilliseconds(stamps[1])
    end.FromMilliseconds(stamps[2])

    found = await stack.stub.ListTransfers(S.ListTransfersRequest(address=holder, start_time=start, end_time=end))

    assert [e.amount_base_units for e in found.transfers] == [3_000_000, 2_000_000]
    assert [e.block_time.ToMilliseconds() for e in found.transfers] == [stamps[2], stamps[1]]


async def test_unsolidified_transfers_are_listed_only_in_the_head_view(stack: UsdtStack) -> None:
    holder = stack.activated_address(usdt=1)
    await stack.stub.Transfer(stack.transfer_request(holder, 1_000_000))
    stack.devnet.produce_block()

    solid = await stack.stub.ListTransfers(S.ListTransfersRequest(address=holder))
    head = await stack.stub.ListTransfers(
        S.ListTransfersRequest(address=holder, finality=common_pb2.FINALITY_HEAD)
    )

    assert list(solid.transfers) == []
    assert [e.amount_base_units for e in head.transfers] == [1_000_000]


@pytest.mark.parametrize("token", ["not a token", "eyJhIjoxfQ=="])
async def test_a_page_token_that_is_not_ours_is_invalid(stack: UsdtStack, token: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.ListTransfers(S.ListTransfersRequest(address=stack.sender, page_token=token))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "page_token" in field_violations(raised.value)


async def test_a_page_token_of_other_filters_is_invalid(stack: UsdtStack) -> None:
    holder = stack.activated_address(usdt=1)
    await send_in_blocks(stack, holder, [1_000_000, 2_000_000])
    first = await stack.stub.ListTransfers(S.ListTransfersRequest(address=holder, page_size=1))

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.ListTransfers(
            S.ListTransfersRequest(address=stack.sender, page_size=1, page_token=first.next_page_token)
        )

    assert first.next_page_token
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "other filters" in field_violations(raised.value)["page_token"]

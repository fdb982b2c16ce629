"""A transfer's state against the chain's own surprises on devnet: reorganised blocks and load-balanced nodes that
answer a few blocks apart. Nothing unsolidified is ever final, and a lagging read never makes a landed transfer look
expired or failed."""

from __future__ import annotations

from pathlib import Path

from integration.usdt_manager.usdt_kit import usdt_stack
from lucid.tron.v1 import usdt_pb2

S = usdt_pb2


async def state_of(stack, txid: str) -> int:
    return (await stack.stub.GetTransfer(S.GetTransferRequest(txid=txid))).transfer.state


async def test_a_transfer_whose_block_is_reorganised_lands_again_and_is_confirmed_once(stack) -> None:
    holder = stack.activated_address(usdt=1)
    sent = (await stack.stub.Transfer(stack.transfer_request(holder, 1_000_000))).transfer
    stack.devnet.produce_block()
    included = await state_of(stack, sent.txid)

    assert stack.devnet.reorg(1) == [sent.txid]  # back in the pending pool, as a fork switch does
    after_reorg = await state_of(stack, sent.txid)
    stack.settle()

    assert included == S.TRANSFER_STATE_INCLUDED
    assert after_reorg == S.TRANSFER_STATE_BROADCAST
    assert await state_of(stack, sent.txid) == S.TRANSFER_STATE_CONFIRMED
    assert stack.devnet.usdt_balance(holder) == 1_000_001


async def test_a_transfer_dropped_by_a_reorg_is_neither_failed_nor_confirmed_and_expires(
    start_devnet, mongo_url: str, chain_redis_url: str, tmp_path: Path
) -> None:
    async with start_devnet(block_interval=0, reorg_requeue=False) as chain:
        async with usdt_stack(chain, mongo_url, chain_redis_url, tmp_path, transaction_lifetime_s=10) as stack:
            sent = (await stack.stub.Transfer(stack.transfer_request(stack.activated_address(usdt=1), 1))).transfer
            chain.produce_block()
            chain.reorg(1)
            chain.solidify()
            waiting = await state_of(stack, sent.txid)
            chain.chain.produce_block(min_timestamp=sent.expiration_time.ToMilliseconds() + 60_000)
            chain.solidify()
            expired = await state_of(stack, sent.txid)

    assert waiting == S.TRANSFER_STATE_BROADCAST
    assert expired == S.TRANSFER_STATE_EXPIRED


async def test_lagging_nodes_never_make_a_landed_transfer_look_expired_or_failed(
    start_devnet, mongo_url: str, chain_redis_url: str, tmp_path: Path
) -> None:
    async with start_devnet(block_interval=0) as chain:
        async with usdt_stack(chain, mongo_url, chain_redis_url, tmp_path, transaction_lifetime_s=10) as stack:
            sent = (await stack.stub.Transfer(stack.transfer_request(stack.activated_address(usdt=1), 1))).transfer
            chain.produce_block()  # it lands here, just before the chain's time passes its expiration by far
            chain.chain.produce_block(min_timestamp=sent.expiration_time.ToMilliseconds() + 60_000)
            chain.solidify()
            # Half the reads now come from nodes up to 10 blocks behind: the solidified head from a fresh node is
            # past the expiration while a receipt may be asked of a node that has not solidified its block yet.
            chain.faults.add(lag_blocks=10, rate=0.5)
            seen = []
            for _ in range(30):
                seen.append(await state_of(stack, sent.txid))
                chain.produce_block()

    assert set(seen) <= {S.TRANSFER_STATE_BROADCAST, S.TRANSFER_STATE_INCLUDED, S.TRANSFER_STATE_CONFIRMED}
    assert seen[-1] == S.TRANSFER_STATE_CONFIRMED

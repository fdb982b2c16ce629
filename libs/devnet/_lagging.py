"""What a TronGrid node a few blocks behind answers: the chain as it was `lag` blocks ago.

TronGrid balances requests over many full nodes, and consecutive reads can hit nodes a few blocks apart: the
head can go backwards, and a receipt that was seen can vanish and come back. `LaggingView` is the chain seen
from such a node. Reads (heads, blocks, receipts, state) stop at the lagged head; the node has no pending pool
of its own, so /wallet/ state is that of its head. Writes (broadcast) reach the real network.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ._blocks import Block
from ._chain import Chain
from ._executor import Receipt
from ._ledger import Ledger

__all__ = ["LaggingView"]


class LaggingView:
    """`chain` as a node `lag` blocks behind its head reads it (anything not overridden is the chain's own)."""

    def __init__(self, chain: Chain, lag: int) -> None:
        self._chain = chain
        self._head_number = max(0, chain.head.number - lag)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._chain, name)

    @property
    def head(self) -> Block:
        return self._chain.blocks[self._head_number]

    @property
    def solidified_number(self) -> int:
        return max(0, self._head_number - self._chain.config.solidification_lag)

    @property
    def solidified(self) -> Block:
        return self._chain.blocks[self.solidified_number]

    def ledger(self, *, solidified: bool = False) -> Ledger:
        return self._chain.snapshot(self.solidified_number if solidified else self._head_number)

    def block(self, number: int, *, solidified: bool = False) -> Block | None:
        limit = self.solidified_number if solidified else self._head_number
        return self._chain.blocks[number] if 0 <= number <= limit else None

    def block_by_id(self, value: bytes, *, solidified: bool = False) -> Block | None:
        block = self._chain.block_by_id(value, solidified=solidified)
        return block if block is not None and self.block(block.number, solidified=solidified) else None

    def locate(self, txid: bytes, *, solidified: bool = False) -> tuple[Block, int] | None:
        found = self._chain.locate(txid)
        if found is None or self.block(found[0].number, solidified=solidified) is None:
            return None
        return found

    def iter_receipts(self) -> Iterator[tuple[Block, int, Receipt]]:
        for block, index, receipt in self._chain.iter_receipts():
            if block.number > self._head_number:
                return
            yield block, index, receipt

    def reference_block(self) -> Block:
        return self.head

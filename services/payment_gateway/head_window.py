"""The blocks above the chain watcher's cursor as it read them at head: each block's header and the transfers
tron-relay listed in it, kept in memory between passes (a restart, or another replica taking the lease, reads them
again).

A block is added only on top of the block it names as its parent (by id), so the window is one chain; a block
whose parent id is not the id read at the height below means the chain changed under the window (a reorg): the
watcher reads the window again. A solidified block whose id is the id read at head is that very block (an id is
the hash of the header, which commits to the transactions, whose execution is determined by the chain before
them), so every block of the window up to it holds for good exactly what was read: it is credited without reading
the solidified view.
"""

from __future__ import annotations

from dataclasses import dataclass

from lucid.tron.v1 import common_pb2, relay_pb2

__all__ = ["HeadWindow", "ReadBlock"]


@dataclass(frozen=True)
class ReadBlock:
    header: common_pb2.BlockHeader
    #: What tron-relay listed for the block (TRX, and Transfer logs of the watched contract), in block order.
    transfers: list[relay_pb2.BlockTransfer]


class HeadWindow:
    """Blocks by number, consecutive and linked by parent ids."""

    def __init__(self) -> None:
        self._blocks: dict[int, ReadBlock] = {}

    def __len__(self) -> int:
        return len(self._blocks)

    @property
    def top(self) -> int | None:
        """The highest block read; None when the window is empty."""
        return max(self._blocks) if self._blocks else None

    def clear(self) -> None:
        self._blocks.clear()

    def prune(self, through: int) -> None:
        """Forget the blocks at or below `through` (final, processed)."""
        for number in [n for n in self._blocks if n <= through]:
            del self._blocks[number]

    def extends(self, header: common_pb2.BlockHeader) -> bool:
        """Whether `header` sits on the block read below it (or nothing is read below it)."""
        below = self._blocks.get(header.number - 1)
        return below is None or below.header.block_id == header.parent_block_id

    def add(self, header: common_pb2.BlockHeader, transfers: list[relay_pb2.BlockTransfer]) -> None:
        self._blocks[header.number] = ReadBlock(header, transfers)

    def confirmed_by(self, solid: common_pb2.BlockHeader, first: int) -> list[ReadBlock] | None:
        """Blocks first..solid.number as read, when the window holds them all and `solid` (read from the solidified
        view) is the block read at its height: then they are final. None otherwise."""
        numbers = range(first, solid.number + 1)
        if not numbers or any(number not in self._blocks for number in numbers):
            return None
        if self._blocks[solid.number].header.block_id != solid.block_id:
            return None
        return [self._blocks[number] for number in numbers]

    def block_interval_ms(self) -> int | None:
        """The usual time between two consecutive blocks read: the median gap (a missed slot, or a block made out of
        turn, moves it little)."""
        gaps = [
            self._blocks[n].header.block_time.ToMilliseconds() - self._blocks[n - 1].header.block_time.ToMilliseconds()
            for n in self._blocks
            if n - 1 in self._blocks
        ]
        positive = sorted(gap for gap in gaps if gap > 0)
        return positive[len(positive) // 2] if positive else None

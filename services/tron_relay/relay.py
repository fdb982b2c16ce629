"""The relay's reads: lucid_tron.trongrid's reads through the read-through cache, and transfer verification."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Collection, Iterable
from dataclasses import dataclass
from typing import TypeVar

from lucid_tron import trongrid
from lucid_tron.trongrid import (
    Account,
    AccountResources,
    BlockHeader,
    BlockReceipts,
    Finality,
    Receipt,
    HistoryPage,
    TronGridClient,
)

from .cache import FETCHED, Cached, CacheStatus, Kind, ReadThroughCache
from .transfers import BlockTransfer, transfers_in
from .verify import Expected, Verdict, verify

__all__ = ["BlockTransfers", "ChainRelay", "Verification"]

#: Blocks of one range read at once: enough to fill a range in a few round trips, few enough not to be throttled.
_BLOCKS_AT_ONCE = 8

T = TypeVar("T")

_BLOCK_KINDS = {Finality.HEAD: Kind.HEAD_BLOCK, Finality.SOLIDIFIED: Kind.SOLIDIFIED_BLOCK}
_ACCOUNT_KINDS = {Finality.HEAD: Kind.HEAD_ACCOUNT, Finality.SOLIDIFIED: Kind.SOLIDIFIED_ACCOUNT}
_RECEIPT_KINDS = {Finality.HEAD: Kind.HEAD_RECEIPT, Finality.SOLIDIFIED: Kind.SOLIDIFIED_RECEIPT}


@dataclass(frozen=True)
class Verification:
    verdict: Verdict
    #: How the receipt behind the verdict was read.
    cache: CacheStatus


@dataclass(frozen=True)
class BlockTransfers:
    transfers: list[BlockTransfer]
    #: The last block read (first - 1 when the head is below the range).
    last_block_number: int
    solidified_block_number: int
    cache: CacheStatus
    #: Every block read, in order.
    headers: list[BlockHeader]


async def _all(reads: Iterable[Awaitable[T]]) -> list[T]:
    """Every read's answer, run at once; the first failure cancels the rest."""
    # Not a TaskGroup: its ExceptionGroup would hide the domain error (UNAVAILABLE) the first failure is.
    tasks = [asyncio.ensure_future(read) for read in reads]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for pending in tasks:
            pending.cancel()


def _combined(statuses: Iterable[CacheStatus]) -> CacheStatus:
    """One status for an answer drawn from several reads: cached only if all were, stale if any was."""
    seen = list(statuses)
    return CacheStatus(
        from_cache=all(s.from_cache for s in seen),
        stale=any(s.stale for s in seen),
        age_s=max(s.age_s for s in seen),
    )


class ChainRelay:
    def __init__(self, trongrid: TronGridClient, cache: ReadThroughCache) -> None:
        self._trongrid = trongrid
        self._cache = cache

    async def now_block(self, finality: Finality, max_age_s: float | None) -> Cached[BlockHeader]:
        return await self._cache.read(
            _BLOCK_KINDS[finality], "now", BlockHeader,
            lambda: trongrid.now_block(self._trongrid, finality), max_age_s=max_age_s,
        )  # fmt: skip

    async def account(self, address: str, finality: Finality, max_age_s: float | None) -> Cached[Account]:
        return await self._cache.read(
            _ACCOUNT_KINDS[finality], address, Account,
            lambda: trongrid.account(self._trongrid, address, finality), max_age_s=max_age_s,
        )  # fmt: skip

    async def account_resources(self, address: str, max_age_s: float | None) -> Cached[AccountResources]:
        return await self._cache.read(
            Kind.RESOURCES, address, AccountResources,
            lambda: trongrid.account_resources(self._trongrid, address), max_age_s=max_age_s,
        )  # fmt: skip

    async def transaction_info(self, txid: str, finality: Finality, max_age_s: float | None) -> Cached[Receipt | None]:
        """The receipt in the view; None when the view holds none (cached briefly, as it changes with a block)."""
        return await self._cache.read(
            _RECEIPT_KINDS[finality], txid, Receipt | None,
            lambda: trongrid.transaction_info(self._trongrid, txid, finality), max_age_s=max_age_s,
        )  # fmt: skip

    async def verify_trc20_transfer(self, txid: str, expected: Expected) -> Verification:
        """Verify against the solidified receipt; the head view is read only to tell NOT_SOLIDIFIED from NOT_FOUND.

        The verdict is cached through its input: a solidified receipt is final and cached for long, so a verdict
        drawn from it is recomputed from the cache without a TronGrid request.
        """
        solidified = await self.transaction_info(txid, Finality.SOLIDIFIED, None)
        if solidified.value is not None:
            return Verification(verify(expected, solidified.value, None), solidified.status)
        head = await self.transaction_info(txid, Finality.HEAD, None)
        return Verification(verify(expected, None, head.value), _combined((solidified.status, head.status)))

    async def block_receipts(self, number: int, solidified: bool) -> Cached[BlockReceipts | None]:
        """Block `number`, from the solidified view (final, cached for good) when `solidified`. A block the
        solidified head covers but this node's solidified view lacks (TronGrid balances between nodes a few blocks
        apart) is read at head instead, unsolidified: never the other way round."""
        if solidified:
            final = await self._cache.read(
                Kind.SOLIDIFIED_BLOCK_RECEIPTS, str(number), BlockReceipts | None,
                lambda: trongrid.block_receipts(self._trongrid, number, Finality.SOLIDIFIED),
            )  # fmt: skip
            if final.value is not None:
                return final
        return await self._cache.read(
            Kind.HEAD_BLOCK_RECEIPTS, str(number), BlockReceipts | None,
            lambda: trongrid.block_receipts(self._trongrid, number, Finality.HEAD),
        )  # fmt: skip

    async def head_blocks(self, first: int, last: int, with_logs: bool) -> list[Cached[BlockReceipts | None]]:
        """Blocks first..last of the head view, up to its head: their bodies in one request (getblockbylimitnext,
        never cached: this is how a watcher learns of new blocks) and, when `with_logs`, the receipts of each block
        holding a transaction other than a TRX transfer (one request each, cached by block id, so they are always
        those of that very body). A block whose receipts the node does not hold ends the run (None)."""
        bodies = await trongrid.block_bodies(self._trongrid, first, last, Finality.HEAD)
        gate = asyncio.Semaphore(_BLOCKS_AT_ONCE)

        async def complete(body: BlockReceipts) -> Cached[BlockReceipts | None]:
            if not with_logs or not trongrid.needs_receipts(body):
                return Cached(body, FETCHED)
            async with gate:
                return await self._cache.read(
                    Kind.HEAD_BLOCK_RECEIPTS, f"id:{body.block.header.block_id}", BlockReceipts | None,
                    lambda: trongrid.block_with_receipts(self._trongrid, body, Finality.HEAD),
                )  # fmt: skip

        return await _all(complete(body) for body in bodies)

    async def block_transfers(
        self, first: int, last: int, contracts: Collection[str], include_trx: bool, *,
        finality: Finality = Finality.SOLIDIFIED,
    ) -> BlockTransfers:
        """The transfers of blocks first..last, up to the head (see relay.proto's GetBlockTransfers)."""
        if finality is Finality.HEAD:
            solidified_number = 0
            statuses = []
            answers = await self.head_blocks(first, last, bool(contracts))
        else:
            head = await self.now_block(Finality.SOLIDIFIED, None)
            solidified_number = head.value.number
            statuses = [head.status]
            gate = asyncio.Semaphore(_BLOCKS_AT_ONCE)

            async def read(number: int) -> Cached[BlockReceipts | None]:
                async with gate:
                    return await self.block_receipts(number, number <= solidified_number)

            answers = await _all(read(number) for number in range(first, last + 1))
        transfers: list[BlockTransfer] = []
        headers: list[BlockHeader] = []
        for answer in answers:
            if answer.value is None:
                break  # past the head; a later block a lagging node did hold is read next time, in order
            statuses.append(answer.status)
            transfers.extend(transfers_in(answer.value, contracts, include_trx))
            headers.append(answer.value.block.header)
        last_read = headers[-1].number if headers else first - 1
        return BlockTransfers(transfers, last_read, solidified_number, _combined(statuses or [FETCHED]), headers)

    async def address_transfers(
        self, address: str, contract: str, *, only_confirmed: bool, min_time_ms: int, max_time_ms: int,
        limit: int, page_token: str,
    ) -> HistoryPage:
        """A page of the address's history: not cached, as a history grows with every block and its pages follow
        TronGrid's own fingerprints."""
        return await trongrid.token_transfers(
            self._trongrid, address, contract, only_confirmed=only_confirmed, min_time_ms=min_time_ms,
            max_time_ms=max_time_ms, limit=limit, fingerprint=page_token,
        )  # fmt: skip

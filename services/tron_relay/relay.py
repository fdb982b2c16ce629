"""The relay's reads: lucid_tron.trongrid's reads through the read-through cache, and transfer verification."""

from __future__ import annotations

from dataclasses import dataclass

from lucid_tron import trongrid
from lucid_tron.trongrid import Account, AccountResources, BlockHeader, Finality, Receipt, TronGridClient

from .cache import Cached, CacheStatus, Kind, ReadThroughCache
from .verify import Expected, Verdict, verify

__all__ = ["ChainRelay", "Verification"]

_BLOCK_KINDS = {Finality.HEAD: Kind.HEAD_BLOCK, Finality.SOLIDIFIED: Kind.SOLIDIFIED_BLOCK}
_ACCOUNT_KINDS = {Finality.HEAD: Kind.HEAD_ACCOUNT, Finality.SOLIDIFIED: Kind.SOLIDIFIED_ACCOUNT}
_RECEIPT_KINDS = {Finality.HEAD: Kind.HEAD_RECEIPT, Finality.SOLIDIFIED: Kind.SOLIDIFIED_RECEIPT}


@dataclass(frozen=True)
class Verification:
    verdict: Verdict
    #: How the receipt behind the verdict was read.
    cache: CacheStatus


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
        stale = solidified.status.stale or head.status.stale
        status = CacheStatus(
            from_cache=solidified.status.from_cache and head.status.from_cache,
            stale=stale,
            age_s=max(solidified.status.age_s, head.status.age_s),
        )
        return Verification(verify(expected, None, head.value), status)

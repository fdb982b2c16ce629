"""`Devnet`: one simulated TRON network, served over HTTP in-process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from lucid_tron.chain import decode_address, to_base58

from ._blocks import Block
from ._chain import Chain
from ._config import DevnetConfig
from ._faults import Faults
from ._poisoning import Poisoning, lookalike_key, poison
from ._app import build_app

__all__ = ["BlockInfo", "Devnet"]

logger = logging.getLogger("lucid_tron.devnet")


@dataclass(frozen=True)
class BlockInfo:
    """A produced block: number, id (hex), timestamp (ms) and the txids it carries, in order."""

    number: int
    id: str
    timestamp: int
    txids: tuple[str, ...]

    @classmethod
    def of(cls, block: Block) -> BlockInfo:
        return cls(block.number, block.id.hex(), block.timestamp, tuple(r.txid.hex() for r in block.receipts))


class Devnet:
    """A TronGrid-compatible TRON network in memory::

        async with Devnet(DevnetConfig(block_interval=0)).serve() as devnet:
            devnet.url, devnet.usdt_address
            devnet.produce_block()

    With block_interval > 0 blocks come on their own while serving; `produce_block` adds one at any time.
    `faults` injects 429/5xx answers, latency and dropped connections; `reorg` replaces unsolidified blocks.
    """

    def __init__(self, config: DevnetConfig | None = None) -> None:
        self.config = config or DevnetConfig()
        self.chain = Chain(self.config)
        self.faults = Faults(self.config.fault_seed)
        self.url: str | None = None
        self._producer: asyncio.Task[None] | None = None

    # -- identity ------------------------------------------------------------------------------------------------

    @property
    def usdt_address(self) -> str:
        """The base58 address of devnet's TRC20 USDT contract."""
        return self.chain.usdt_address_base58()

    @property
    def chain_id(self) -> int:
        """TRON's chain id of this network: the last 4 bytes of its genesis block id."""
        return self.chain.chain_id

    @property
    def genesis_block_id(self) -> str:
        return self.chain.genesis.id.hex()

    @property
    def head_number(self) -> int:
        return self.chain.head.number

    @property
    def solidified_number(self) -> int:
        return self.chain.solidified_number

    def info(self) -> dict[str, Any]:
        """What a client needs to know to use this devnet (also the JSON line the CLI prints)."""
        return {
            "url": self.url,
            "usdt_address": self.usdt_address,
            "lookalike_address": self.lookalike_address,
            "forwarder_address": self.forwarder_address,
            "chain_id": self.chain_id,
            "genesis_block_id": self.genesis_block_id,
            "block_interval": self.config.block_interval,
            "solidification_lag": self.config.solidification_lag,
            "reorg_requeue": self.config.reorg_requeue,
            "usdt_energy_factors": list(self.config.usdt_energy_factors),
            "maintenance_period_blocks": self.config.maintenance_period_blocks,
            "head": self.head_number,
            "solidified": self.solidified_number,
        }

    # -- control -------------------------------------------------------------------------------------------------

    def produce_block(self) -> BlockInfo:
        """Seal the pending transactions into a new head block now."""
        return BlockInfo.of(self.chain.produce_block())

    def produce_blocks(self, count: int) -> list[BlockInfo]:
        return [self.produce_block() for _ in range(count)]

    def solidify(self) -> list[BlockInfo]:
        """Produce as many blocks as it takes for the current head to become solidified."""
        return self.produce_blocks(self.config.solidification_lag)

    def reorg(self, depth: int, *, requeue: bool | None = None) -> list[str]:
        """Replace the last `depth` unsolidified blocks with new empty ones; return the txids taken out.

        Those transactions go back to the pending pool and land in the next block (requeue=True, the default
        unless DevnetConfig.reorg_requeue is False), or are dropped and forgotten, so a rebroadcast is accepted
        again (requeue=False). Raises ReorgError for a depth that would touch solidified blocks.
        """
        return [txid.hex() for txid in self.chain.reorg(depth, requeue=requeue)]

    def fund(self, address: str, *, trx_sun: int = 0, usdt_units: int = 0, lookalike_units: int = 0) -> None:
        """Credit an address out of band (no transaction), creating its account if needed."""
        if min(trx_sun, usdt_units, lookalike_units) < 0:
            raise ValueError("amounts must be non-negative")
        self.chain.fund(decode_address(address), trx_sun, usdt_units, lookalike_units)

    def poison(
        self,
        victim: str,
        counterparty: str,
        *,
        zero_value: bool = True,
        dust_units: int = 1,
        fake_units: int = 0,
        prefix: int = 2,
        suffix: int = 1,
    ) -> Poisoning:
        """Send `victim` poisoning transfers from an address that shares `counterparty`'s first `prefix` and last
        `suffix` characters: a zero-value USDT transferFrom, USDT dust, lookalike tokens (see `_poisoning`).
        They wait in the pending pool for the next block. Raises PoisoningError for impossible requests."""
        key = lookalike_key(self.chain, to_base58(decode_address(counterparty)), prefix, suffix)
        return poison(self.chain, decode_address(victim), key, zero_value=zero_value, dust_units=dust_units,
                      fake_units=fake_units)

    def trx_balance(self, address: str, *, solidified: bool = False) -> int:
        account = self.chain.ledger(solidified=solidified).account(decode_address(address))
        return account.balance if account else 0

    def usdt_balance(self, address: str, *, solidified: bool = False) -> int:
        return self.chain.token.balance_of(self.chain.ledger(solidified=solidified), decode_address(address))

    def lookalike_balance(self, address: str, *, solidified: bool = False) -> int:
        return self.chain.lookalike.balance_of(self.chain.ledger(solidified=solidified), decode_address(address))

    @property
    def lookalike_address(self) -> str:
        """The base58 address of the lookalike TRC20: USDT's name, symbol and decimals, another contract."""
        return to_base58(self.chain.lookalike.address)

    @property
    def forwarder_address(self) -> str:
        """The base58 address of the payment forwarder (forward(token, to, value) calls token.transferFrom)."""
        return to_base58(self.chain.forwarder.address)

    # -- serving -------------------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[Devnet]:
        """Serve the HTTP API on host:port (0 = a free port; see `url`) and produce blocks on the interval."""
        runner = web.AppRunner(build_app(self.chain, self.faults, self.info), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            bound_host, bound_port = runner.addresses[0][:2]
            self.url = f"http://{bound_host}:{bound_port}"
            if not self.config.manual:
                self._producer = asyncio.create_task(self._produce_forever(), name="devnet-blocks")
            yield self
        finally:
            if self._producer is not None:
                self._producer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._producer
                self._producer = None
            await runner.cleanup()
            self.url = None

    async def _produce_forever(self) -> None:
        interval = self.config.block_interval
        next_at = time.monotonic() + interval
        while True:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            try:
                self.chain.produce_block()
            except Exception:  # a bug in one block must not stop the chain; it is logged with its traceback
                logger.exception("devnet failed to produce block %d", self.chain.head.number + 1)
            next_at = max(next_at + interval, time.monotonic())

    def __repr__(self) -> str:
        return f"Devnet(url={self.url!r}, head={self.head_number}, usdt={self.usdt_address})"

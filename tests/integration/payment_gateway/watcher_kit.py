"""The chain watcher's test bench: a devnet making blocks on its own (fast), a real tron-relay in front of it, and
payment-gateway (with its wallet-manager) reading the chain through that relay. Payments are made by unmodified
tronpy. A test module imports the fixtures `bench` (module-wide; define its own for another devnet config) and
`watching` (a gateway per test, faults cleared after it).

    async with chain_bench(redis_url) as bench:                  # module-wide: devnet + relay
        async with bench.gateway(mongo_url, redis_url, tmp_path) as running:   # per test: a fresh database
            invoice = await create_invoice(running, asset=USDT, amount_base_units=5_000_000)
            txid = await bench.pay_usdt(payer, invoice.deposit_address, 5_000_000)
            paid = await until(running, invoice.invoice_id, lambda i: i.status == pg.INVOICE_STATUS_PAID)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient
from tronpy import AsyncTron
from tronpy.exceptions import TransactionNotFound
from tronpy.keys import PrivateKey as TronpyKey
from tronpy.providers.async_http import AsyncHTTPProvider

from fixtures.devnet import DevnetAccount, funded_accounts
from integration.payment_gateway.gateway_kit import Gateway, create_request, gateway
from integration.tron_relay.tron_relay_kit import RunningRelay, start_relay
from lucid.tron.v1 import payment_gateway_pb2 as pg
from lucid_tron.devnet import Devnet, DevnetConfig

BLOCK_INTERVAL_S = 0.3
SOLIDIFICATION_LAG = 5
FEE_LIMIT_SUN = 50_000_000
#: Generous: other helpers' tests share the machine's two cores.
WAIT_S = 30.0
#: The relay's caches, at a fraction of this devnet's block interval (mainnet's defaults are for 3 s blocks).
RELAY_TTLS = {
    "head_block_ttl_s": 0.05, "solidified_block_ttl_s": 0.05, "head_receipt_ttl_s": 0.05, "not_found_ttl_s": 0.05,
    "local_s": 0.0, "refresh_wait_s": 0.5, "trongrid_timeout_s": 5.0,
}  # fmt: skip
#: The watcher at the pace of this devnet; block scanning unless a test says otherwise.
WATCHER = {
    "watcher_interval_s": 0.1, "watcher_scan_threshold": 1, "watcher_history_settle_s": 0.0,
    "watcher_heartbeat_s": 0.5, "watcher_lease_ttl_s": 2.0, "watcher_max_backoff_s": 0.5,
    "invoice_expiry_interval_s": 0.2,
}  # fmt: skip


@dataclass
class ChainBench:
    devnet: Devnet
    relay: RunningRelay
    tron: AsyncTron

    @contextlib.asynccontextmanager
    async def gateway(self, mongo_url: str, redis_url: str, directory: Path, **values: Any) -> AsyncIterator[Gateway]:
        """A gateway watching this chain, its watcher's first pass done (it starts at the solidified head)."""
        settings = {
            **WATCHER, "tron_relay_addr": self.relay.server.address, "usdt_contract": self.devnet.usdt_address,
            **values,
        }  # fmt: skip
        async with gateway(mongo_url, redis_url, directory, **settings) as running:
            if "mongo_database" not in values:
                await eventually(lambda: watcher_cursor(mongo_url, running.database))
            yield running

    async def pay_trx(self, payer: DevnetAccount, to: str, sun: int) -> str:
        txn = await self.tron.trx.transfer(payer.address, to, sun).build()
        return (await txn.sign(_key(payer)).broadcast()).txid

    async def pay_usdt(self, payer: DevnetAccount, to: str, base_units: int) -> str:
        return await self._call(self.devnet.usdt_address, payer, "transfer", to, base_units)

    async def pay_lookalike(self, payer: DevnetAccount, to: str, base_units: int) -> str:
        self.devnet.fund(payer.address, lookalike_units=base_units)
        return await self._call(self.devnet.lookalike_address, payer, "transfer", to, base_units)

    async def pay_through_forwarder(self, payer: DevnetAccount, to: str, base_units: int) -> str:
        """USDT moved by the forwarder contract (transferFrom inside it): only USDT's Transfer log shows it."""
        approval = await self._send(self.devnet.usdt_address, payer, "approve", self.devnet.forwarder_address,
                                    base_units)
        await approval.wait(timeout=WAIT_S, interval=0.05)
        return await self._call(self.devnet.forwarder_address, payer, "forward", self.devnet.usdt_address, to,
                                base_units)

    async def block_of(self, txid: str) -> int:
        """The block that includes `txid`, as tronpy reads it (waiting for it to be included)."""

        async def included() -> int | None:
            with contextlib.suppress(TransactionNotFound):
                return (await self.tron.get_transaction_info(txid)).get("blockNumber")
            return None

        number: int = await eventually(included)
        return number

    async def _call(self, contract: str, payer: DevnetAccount, function: str, *args: Any) -> str:
        return (await self._send(contract, payer, function, *args)).txid

    async def _send(self, contract: str, payer: DevnetAccount, function: str, *args: Any) -> Any:
        token = await self.tron.get_contract(contract)
        builder = await getattr(token.functions, function)(*args)
        txn = await builder.with_owner(payer.address).fee_limit(FEE_LIMIT_SUN).build()
        return await txn.sign(_key(payer)).broadcast()


@contextlib.asynccontextmanager
async def chain_bench(redis_url: str, **devnet: Any) -> AsyncIterator[ChainBench]:
    """devnet (the fixture accounts funded) and a relay in front of it; `devnet` overrides DevnetConfig fields."""
    config = DevnetConfig(**{
        "block_interval": BLOCK_INTERVAL_S, "solidification_lag": SOLIDIFICATION_LAG, "funded": funded_accounts(),
        **devnet,
    })  # fmt: skip
    async with Devnet(config).serve(host="127.0.0.1", port=0) as chain:
        async with start_relay(chain, redis_url, **RELAY_TTLS) as relay:
            # No "trongrid" in devnet's URL, so tronpy sends no API key of its own (notes: tronpy pitfalls).
            tron = AsyncTron(AsyncHTTPProvider(chain.url, api_key=None))
            try:
                yield ChainBench(chain, relay, tron)
            finally:
                await tron.close()


@pytest.fixture(scope="module")
async def bench(redis_url: str) -> AsyncIterator[ChainBench]:
    async with chain_bench(redis_url) as running:
        yield running


@pytest.fixture
async def watching(bench: ChainBench, mongo_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[Gateway]:
    try:
        async with bench.gateway(mongo_url, redis_url, tmp_path) as running:
            yield running
    finally:
        bench.devnet.faults.clear()


def is_paid(invoice: pg.Invoice) -> bool:
    return invoice.status == pg.INVOICE_STATUS_PAID


def _key(account: DevnetAccount) -> TronpyKey:
    return TronpyKey(account.key.to_bytes())


async def create_invoice(running: Gateway, **fields: Any) -> pg.Invoice:
    return (await running.stub.CreateInvoice(create_request(**fields))).invoice


async def invoice_now(running: Gateway, invoice_id: str) -> pg.Invoice:
    return (await running.stub.GetInvoice(pg.GetInvoiceRequest(invoice_id=invoice_id))).invoice


async def until(
    running: Gateway, invoice_id: str, condition: Callable[[pg.Invoice], bool], timeout_s: float = WAIT_S
) -> pg.Invoice:
    """The invoice once `condition` holds (polled every 20 ms); fails with the last state read after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        invoice = await invoice_now(running, invoice_id)
        if condition(invoice):
            return invoice
        assert time.monotonic() < deadline, f"condition not met in {timeout_s} s; invoice is now:\n{invoice}"
        await asyncio.sleep(0.02)


async def eventually(condition: Callable[[], Any], timeout_s: float = WAIT_S) -> Any:
    """The first truthy value of the coroutine function `condition`, polled every 50 ms."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"condition not met in {timeout_s} s"
        await asyncio.sleep(0.05)


async def event_types(running: Gateway, invoice_id: str) -> list[int]:
    answer = await running.stub.ListInvoiceEvents(pg.ListInvoiceEventsRequest(invoice_id=invoice_id, page_size=100))
    return [event.type for event in answer.events]


async def watcher_cursor(mongo_url: str, database: str) -> dict[str, Any] | None:
    async with AsyncMongoClient(mongo_url, tz_aware=True) as client:
        return await client[database]["watcher_cursor"].find_one({"_id": "chain-watcher"})


async def lease(mongo_url: str, database: str) -> dict[str, Any] | None:
    async with AsyncMongoClient(mongo_url, tz_aware=True) as client:
        return await client[database]["leases"].find_one({"_id": "chain-watcher"})


async def expire_in(mongo_url: str, database: str, invoice_id: str, seconds: float) -> datetime:
    """Move the invoice's expiry to `seconds` from now (the API refuses expiries under a minute away)."""
    expire_at = datetime.now(UTC) + timedelta(seconds=seconds)
    expire_at = expire_at.replace(microsecond=expire_at.microsecond // 1000 * 1000)
    async with AsyncMongoClient(mongo_url, tz_aware=True) as client:
        await client[database]["invoices"].update_one({"_id": invoice_id}, {"$set": {"expire_at": expire_at}})
    return expire_at


def relay_calls(method: str, strategy: str) -> float:
    """How many `method` calls the chain watchers of this process made to tron-relay under `strategy`."""
    value = REGISTRY.get_sample_value(
        "lucid_gateway_watcher_relay_calls_total", {"method": method, "strategy": strategy}
    )
    return value or 0.0


def passes(strategy: str) -> float:
    return REGISTRY.get_sample_value("lucid_gateway_watcher_passes_total", {"strategy": strategy}) or 0.0


def payments_counted(asset: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("lucid_gateway_payments_total", {"asset": asset, "outcome": outcome}) or 0.0

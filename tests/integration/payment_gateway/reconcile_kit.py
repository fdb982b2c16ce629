"""A payment-gateway reading a real devnet through a real tron-relay, and payments made with unmodified tronpy.

No chain watcher runs in these tests: whatever the gateway learns of the chain, it learns by reconciliation. (The
gateway always starts one; `chain_gateway` has its lease held by a replica that is not there, or its first pass, a
second after the start, would credit a payment first whenever a loaded machine slows the run under test.)
Devnet produces blocks only when a test asks (`chain.produce_block()`, `chain.solidify()`), so whether a
payment is solidified is the test's decision, never a race.

    async with chain_gateway(mongo_url, redis_url, tmp_path, chain, relay_address) as running: ...
    txid = await pay_usdt(tron, chain, payer, deposit_address, 12_500_000)

Fixtures (import them into a test module to use them): `chain` (a manual devnet), `relay` (tron-relay in front of
it), `on_chain` (payment-gateway reading it through the relay), `gateway_store` (its database, for a test to arrange
what it needs there) and `tron` (tronpy's AsyncTron on it).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from tronpy import AsyncTron
from tronpy.keys import PrivateKey as TronpyKey
from tronpy.providers.async_http import AsyncHTTPProvider

from fixtures.devnet import DevnetAccount
from fixtures.servers import REDIS_TEST_DB
from integration.payment_gateway.gateway_kit import Gateway, gateway
from integration.tron_relay.tron_relay_kit import RunningRelay, start_relay
from lucid_tron.devnet import Devnet
from lucid_tron.services.payment_gateway.store import PaymentGatewayStore
from lucid_tron.services.payment_gateway.watcher import LEASE as WATCHER_LEASE
from lucid_tron.storage import Leases, MongoSettings, connect_mongo

#: Long enough that the scheduled run never starts during a test: every run in these tests is requested.
NEVER_S = 86_400.0


@asynccontextmanager
async def chain_gateway(
    mongo_url: str, redis_url: str, directory: Path, chain: Devnet, relay_address: str, **values: Any
) -> AsyncIterator[Gateway]:
    values = {"reconcile_interval_s": NEVER_S, **values}
    database = f"gateway_{uuid.uuid4().hex[:12]}"
    await hold_watcher_lease_elsewhere(mongo_url, database)
    async with gateway(
        mongo_url, redis_url, directory, tron_relay_addr=relay_address, usdt_contract=chain.usdt_address,
        database=database, **values,
    ) as running:
        yield running


async def hold_watcher_lease_elsewhere(mongo_url: str, database: str) -> None:
    """Take the chain watcher's lease in the gateway's `database` for a replica that is not there, for longer than any
    test: the gateway's own watcher then finds it held and never reads the chain."""
    client, db = connect_mongo(mongo_url, database, app_name="lucid-tron-tests")
    try:
        held = await Leases.in_database(db, owner="absent-replica", ttl_s=NEVER_S).acquire(WATCHER_LEASE)
    finally:
        await client.close()
    assert held is not None


@pytest.fixture
async def chain(start_devnet: Any) -> AsyncIterator[Devnet]:
    async with start_devnet(block_interval=0) as running:
        yield running


@pytest.fixture
async def relay(chain: Devnet, redis_server: Any, redis_client: Any) -> AsyncIterator[RunningRelay]:
    # The database `redis_client` empties around each test: the relay caches solidified blocks for good, by height.
    async with start_relay(chain, redis_server.url_for_db(REDIS_TEST_DB)) as running:
        yield running


@pytest.fixture
async def on_chain(
    mongo_url: str, redis_url: str, tmp_path: Path, chain: Devnet, relay: RunningRelay
) -> AsyncIterator[Gateway]:
    async with chain_gateway(mongo_url, redis_url, tmp_path, chain, relay.server.address) as served:
        yield served


@pytest.fixture
async def gateway_store(mongo_url: str, on_chain: Gateway) -> AsyncIterator[PaymentGatewayStore]:
    """`on_chain`'s own database, written as the test needs (as a chain watcher would write it, say)."""
    store = PaymentGatewayStore(MongoSettings(mongo_url=mongo_url, mongo_database=on_chain.database))
    await store.open()
    yield store
    await store.close()


@pytest.fixture
async def tron(chain: Devnet) -> AsyncIterator[AsyncTron]:
    client = AsyncTron(AsyncHTTPProvider(chain.url, api_key=None))
    yield client
    await client.close()


def tronpy_key(account: DevnetAccount) -> TronpyKey:
    return TronpyKey(account.key.to_bytes())


async def call_contract(tron: AsyncTron, contract: str, payer: DevnetAccount, function: str, *args: Any) -> str:
    """`contract.function(*args)` built, signed and broadcast by tronpy; the txid (pending until the next block)."""
    called = await tron.get_contract(contract)
    builder = await getattr(called.functions, function)(*args)
    txn = await builder.with_owner(payer.address).fee_limit(50_000_000).build()
    sent = await txn.sign(tronpy_key(payer)).broadcast()
    return str(sent.txid)


async def pay_token(tron: AsyncTron, token: str, payer: DevnetAccount, to: str, amount: int) -> str:
    return await call_contract(tron, token, payer, "transfer", to, amount)


async def pay_usdt(tron: AsyncTron, chain: Devnet, payer: DevnetAccount, to: str, amount: int) -> str:
    return await pay_token(tron, chain.usdt_address, payer, to, amount)


async def pay_trx(tron: AsyncTron, payer: DevnetAccount, to: str, sun: int) -> str:
    txn = await tron.trx.transfer(payer.address, to, sun).build()
    sent = await txn.sign(tronpy_key(payer)).broadcast()
    return str(sent.txid)

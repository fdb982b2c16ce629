"""payment-gateway: `python -m lucid_tron.services.payment_gateway` serves lucid.tron.v1.PaymentGatewayService.

Settings (MONGO_URL, MONGO_DATABASE, REDIS_URL, TRON_CLIENT_ADDR, TRON_RELAY_ADDR, WALLET_MANAGER_ADDR, USDT_CONTRACT,
PAYMENT_WALLET_ID, DEPOSIT_ADDRESS_BATCH, TRON_NETWORK, INVOICE_EXPIRY_INTERVAL_S, RECONCILE_INTERVAL_S,
RECONCILE_LOOKBACK_S, RECONCILE_MAX_INVOICES_PER_RUN, PAYMENT_DUST_BASE_UNITS, the chain watcher's WATCHER_*
(`watcher.WatcherSettings`), DEPENDENCY_CHECK_INTERVAL_S and the mesh's) come from the environment and secret files; every problem is reported at
once and the process exits 78 before serving. MongoDB holds this service's state: the process is NOT_SERVING while
MongoDB does not answer, checked every DEPENDENCY_CHECK_INTERVAL_S. Redis is soft: while it is down the process stays
SERVING and reports it under the health service "redis".

It also serves lucid.tron.v1.WebhookService, and sends invoice events as webhooks (settings WEBHOOK_*): an outbox
dispatcher turns each committed event into deliveries and a delivery worker POSTs them, each under its lease (one
of each across replicas).
"""

from __future__ import annotations

import asyncio
import os
import socket
from contextlib import suppress
from dataclasses import dataclass
from functools import partial

from lucid_tron.chain import UsdtContractSettings
from lucid_tron.config import Settings, setting
from lucid_tron.mesh import Dependency, ServiceSettings, ServiceSpec, run
from lucid_tron.peers import TronClientAddress, TronRelayAddress, WalletManagerAddress
from lucid_tron.storage import MongoSettings, RedisSettings, connect_redis, redis_ping
from lucid_tron.webhooks import WebhookSettings, with_webhooks

from .expiry import ExpiryJob
from .invoices import Invoices
from .reconcile import Reconciler, ReconcileJob, ReconcileSettings
from .servicer import PaymentGatewayServicer, registration
from .store import PaymentGatewayStore
from .watcher import ChainWatcher, WatcherSettings
from .watcher_store import WatcherStore

NAME = "payment-gateway"


@dataclass(frozen=True, kw_only=True)
class InvoiceSettings(Settings):
    """Where deposit addresses come from and how invoices are announced and expired."""

    payment_wallet_id: str = setting("PAYMENT_WALLET_ID", default="")
    #: Deposit addresses derived per DeriveAddresses call, ahead of need (`deposit_addresses`).
    deposit_address_batch: int = setting("DEPOSIT_ADDRESS_BATCH", default=50, ge=1, le=1000)
    tron_network: str = setting("TRON_NETWORK", default="mainnet")
    invoice_expiry_interval_s: float = setting("INVOICE_EXPIRY_INTERVAL_S", default=5.0, ge=0.05, le=3600)


@dataclass(frozen=True, kw_only=True)
class PaymentGatewaySettings(
    ServiceSettings,
    ReconcileSettings,
    WatcherSettings,
    InvoiceSettings,
    WebhookSettings,
    UsdtContractSettings,
    WalletManagerAddress,
    TronRelayAddress,
    TronClientAddress,
    RedisSettings,
    MongoSettings,
):
    """Everything payment-gateway reads, composed from the settings groups that declare each variable once.

    The groups are listed last-first because a dataclass takes its fields from the last base first: this way
    problems and the configuration reference name MONGO_URL first and the mesh's own settings last.
    """


def build(settings: PaymentGatewaySettings) -> ServiceSpec:
    store = PaymentGatewayStore(settings)
    tron_client = settings.tron_client()
    tron_relay = settings.tron_relay()
    wallet_manager = settings.wallet_manager()
    redis = connect_redis(settings.redis_url, app_name=NAME)
    invoices = Invoices(
        store,
        tron_client=tron_client,
        tron_relay=tron_relay,
        wallet_manager=wallet_manager,
        redis=redis,
        usdt_contract=settings.usdt_contract,
        payment_wallet_id=settings.payment_wallet_id,
        address_batch=settings.deposit_address_batch,
        network=settings.tron_network,
    )
    owner = f"{socket.gethostname()}:{os.getpid()}"
    reconciler = Reconciler.configured(
        store, settings, owner=owner, tron_relay=tron_relay, redis=redis, usdt_contract=settings.usdt_contract
    )
    job_tasks: list[asyncio.Task[None]] = []
    chain = WatcherStore(store)

    async def start_jobs(_health: object) -> None:
        loop = asyncio.get_running_loop()
        watching = partial(store.leases, owner=owner, ttl_s=settings.watcher_lease_ttl_s)
        job_tasks.append(loop.create_task(ChainWatcher(invoices, chain, watching, settings, dust_base_units=settings.payment_dust_base_units).run()))
        leases = partial(store.leases, owner=owner, ttl_s=max(30.0, 3 * settings.invoice_expiry_interval_s))
        job = ExpiryJob(invoices, leases, interval_s=settings.invoice_expiry_interval_s, chain_time=chain.chain_time)
        job_tasks.append(loop.create_task(job.run()))
        job_tasks.append(loop.create_task(ReconcileJob(reconciler, interval_s=settings.reconcile_interval_s).run()))

    async def stop_jobs() -> None:
        # No lease release for the watcher: like a killed one, a stopped watcher's lease runs out
        # (WATCHER_LEASE_TTL_S) before a peer takes over, so a stop never races a takeover.
        for task in job_tasks:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    spec = ServiceSpec(
        name=NAME,
        services=[registration(PaymentGatewayServicer(invoices, reconciler))],
        dependencies=[
            Dependency("mongodb", store.ping, open=store.open),
            Dependency("redis", partial(redis_ping, redis), soft=True),
        ],
        on_start=[start_jobs],
        on_stop=[stop_jobs, store.close, tron_client.close, tron_relay.close, wallet_manager.close, redis.aclose],
    )
    return with_webhooks(spec, store, settings)


if __name__ == "__main__":
    run(build, PaymentGatewaySettings)

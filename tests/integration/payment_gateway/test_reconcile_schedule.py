"""Scheduled reconciliation within its budget: a scheduled run reads at most RECONCILE_MAX_INVOICES_PER_RUN invoices
and records how many it left for later; runs in turn reach every invoice; the invoices that need a read most (never
read, or a payable window about to close) come first; a run on request still reads every invoice; a transfer
already credited is not verified again.

The scheduled runs here are `Reconciler.scheduled`, the call the job makes every RECONCILE_INTERVAL_S, made by the
test on the gateway's own database and through the same tron-relay, so that the test decides when each run starts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from integration.payment_gateway.gateway_kit import Gateway, create_request
from integration.payment_gateway.reconcile_kit import (
    chain, chain_gateway, gateway_store, on_chain, pay_usdt, relay, tron,
)
from integration.tron_relay.tron_relay_kit import RunningRelay
from lucid.tron.v1 import payment_gateway_pb2 as pg
from lucid_tron.devnet import Devnet
from lucid_tron.peers import RelayService
from lucid_tron.services.payment_gateway.reconcile import Reconciler, ReconcileSettings
from lucid_tron.services.payment_gateway.store import INVOICES, PaymentGatewayStore
from lucid_tron.storage import connect_redis

#: Fixtures of reconcile_kit, used by name.
__all__ = ["chain", "gateway_store", "on_chain", "relay", "tron"]

AMOUNT = 5_000_000
#: What the runs here take as RECONCILE_INTERVAL_S: an invoice whose window closes within two of it is urgent.
INTERVAL_S = 60.0


class CountingRelay:
    """tron-relay as the reconciler calls it (`relay.rpc.Method(request)`), each method's name noted as it is
    called."""

    def __init__(self, relay: RelayService) -> None:
        self._relay = relay
        self.calls: list[str] = []

    @property
    def rpc(self) -> Any:
        return self

    def __getattr__(self, method: str) -> Callable[..., Any]:
        async def call(request: Any) -> Any:
            self.calls.append(method)
            return await getattr(self._relay.rpc, method)(request)

        return call


@pytest.fixture
async def relay_calls(relay: RunningRelay) -> AsyncIterator[CountingRelay]:
    client = RelayService(relay.server.address)
    yield CountingRelay(client)
    await client.close()


@pytest.fixture
async def reconciler(
    gateway_store: PaymentGatewayStore, relay_calls: CountingRelay, chain: Devnet, redis_url: str
) -> AsyncIterator[Callable[[int], Reconciler]]:
    """Reconcilers as payment-gateway builds them, with the budget given."""
    redis = connect_redis(redis_url, app_name="test-reconcile-schedule")

    def build(budget: int) -> Reconciler:
        return Reconciler.configured(
            gateway_store, ReconcileSettings(reconcile_max_invoices_per_run=budget), owner="test:1",
            tron_relay=relay_calls, redis=redis, usdt_contract=chain.usdt_address,  # type: ignore[arg-type]
        )  # fmt: skip

    yield build
    await redis.aclose()


async def new_invoices(on_chain: Gateway, count: int) -> list[str]:
    return [
        (await on_chain.stub.CreateInvoice(create_request(amount_base_units=AMOUNT))).invoice.invoice_id
        for _ in range(count)
    ]


async def scheduled_run(reconciler: Reconciler) -> dict[str, Any]:
    """A scheduled run now, whenever the last one started."""
    run = await reconciler.scheduled(0.0)
    assert run is not None
    return run


async def read_at(store: PaymentGatewayStore, invoice_ids: list[str], at: datetime) -> None:
    """As if reconciliation had last read these invoices `at`."""
    for invoice_id in invoice_ids:
        await store.stamp_reconciled(invoice_id, at)


async def read_since(store: PaymentGatewayStore, since: datetime) -> set[str]:
    """The invoices reconciliation read since `since` (as stamped)."""
    documents = await store.collection(INVOICES).find({}, {"reconciled_at": 1}).to_list()
    return {d["_id"] for d in documents if d.get("reconciled_at") is not None and d["reconciled_at"] >= since}


async def test_a_scheduled_run_reads_at_most_its_budget_and_records_how_many_it_left(on_chain, reconciler):
    await new_invoices(on_chain, 5)

    await scheduled_run(reconciler(2))
    [run] = (await on_chain.stub.ListReconciliationRuns(pg.ListReconciliationRunsRequest())).runs

    assert (run.trigger, run.invoices_checked, run.invoices_deferred, run.error) == ("schedule", 2, 3, "")


async def test_scheduled_runs_in_turn_read_every_invoice(on_chain, reconciler, gateway_store):
    invoice_ids = await new_invoices(on_chain, 5)
    started = datetime.now(UTC)
    read_after: list[int] = []

    for _ in range(3):  # ceil(5 / 2)
        await scheduled_run(reconciler(2))
        read_after.append(len(await read_since(gateway_store, started)))

    assert read_after == [2, 4, 5]
    assert await read_since(gateway_store, started) == set(invoice_ids)


async def test_an_invoice_never_read_is_read_before_those_read_long_ago(on_chain, reconciler, gateway_store):
    read_long_ago = await new_invoices(on_chain, 3)
    [never_read] = await new_invoices(on_chain, 1)
    await read_at(gateway_store, read_long_ago, datetime.now(UTC) - timedelta(hours=1))
    started = datetime.now(UTC)

    await scheduled_run(reconciler(2))  # half the budget, one read, for the urgent; the other for the rotation

    read = await read_since(gateway_store, started)
    assert never_read in read and len(read & set(read_long_ago)) == 1


async def test_an_invoice_whose_payable_window_is_about_to_close_is_read_before_the_least_recently_read(
    on_chain, reconciler, gateway_store
):
    [closing, *read_long_ago] = await new_invoices(on_chain, 3)
    now = datetime.now(UTC)
    await read_at(gateway_store, read_long_ago, now - timedelta(hours=1))
    await read_at(gateway_store, [closing], now)  # read a moment ago, but its window closes before two intervals
    document = await gateway_store.invoice(closing)
    assert document is not None
    window = timedelta(seconds=document["monitoring_window_s"])
    await gateway_store.collection(INVOICES).update_one(
        {"_id": closing}, {"$set": {"expire_at": now + timedelta(seconds=INTERVAL_S) - window}}
    )
    started = datetime.now(UTC)

    run = await reconciler(2).scheduled(INTERVAL_S)  # half the budget, one read, for the urgent

    assert run is not None and run["invoices_checked"] == 2
    read = await read_since(gateway_store, started)
    assert closing in read and len(read & set(read_long_ago)) == 1


async def test_a_run_on_request_reads_every_invoice_whatever_the_budget(
    mongo_url, redis_url, tmp_path, chain, relay
):
    async with chain_gateway(
        mongo_url, redis_url, tmp_path, chain, relay.server.address, reconcile_max_invoices_per_run=1
    ) as served:
        await new_invoices(served, 3)

        run = (await served.stub.ReconcileInvoices(pg.ReconcileInvoicesRequest())).run

    assert (run.invoices_checked, run.invoices_deferred) == (3, 0)


async def test_a_transfer_already_credited_is_not_verified_again(
    on_chain, reconciler, relay_calls, chain, tron, devnet_accounts
):
    [invoice_id] = await new_invoices(on_chain, 1)
    invoice = (await on_chain.stub.GetInvoice(pg.GetInvoiceRequest(invoice_id=invoice_id))).invoice
    await pay_usdt(tron, chain, devnet_accounts[0], invoice.deposit_address, AMOUNT)
    chain.produce_block()
    chain.solidify()
    crediting = await scheduled_run(reconciler(1))
    assert [fix["action"] for fix in crediting["fixes"]] == ["CREDITED"]
    relay_calls.calls.clear()

    again = await scheduled_run(reconciler(1))

    assert (again["invoices_checked"], again["fixes"]) == (1, [])
    assert relay_calls.calls == ["ListAddressTransfers"]

"""The chain watcher picks its strategy by cost (threshold 2 here): a heartbeat with no open invoice, the deposit
addresses' histories with fewer than the threshold, block scanning from it on. Told apart by the tron-relay calls
the watcher counts per strategy, and by the TronGrid requests devnet receives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from integration.payment_gateway.gateway_kit import USDT, Gateway
from integration.payment_gateway.watcher_kit import (
    ChainBench,
    bench,  # noqa: F401 - a fixture
    create_invoice,
    eventually,
    passes,
    relay_calls,
    until,
    watcher_cursor,
)
from lucid.tron.v1 import payment_gateway_pb2 as pg
from lucid_tron.devnet import FaultRule
from lucid_tron.services.payment_gateway.watcher import HEARTBEAT, HISTORY, SCAN

METHODS = ("GetNowBlock", "GetBlockTransfers", "ListAddressTransfers", "GetTransactionInfo")
STRATEGIES = (HEARTBEAT, HISTORY, SCAN)


@pytest.fixture
async def watching(bench: ChainBench, mongo_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[Gateway]:
    try:
        async with bench.gateway(
            mongo_url, redis_url, tmp_path, watcher_scan_threshold=2, watcher_heartbeat_s=0.5
        ) as running:
            yield running
    finally:
        bench.devnet.faults.clear()


class Tally:
    """What the watchers of this process did since it was made: relay calls and passes, per strategy."""

    def __init__(self) -> None:
        self._calls = self._read_calls()
        self._passes = {strategy: passes(strategy) for strategy in STRATEGIES}

    @staticmethod
    def _read_calls() -> dict[tuple[str, str], float]:
        return {(m, s): relay_calls(m, s) for m in METHODS for s in STRATEGIES}

    def calls(self, strategy: str) -> dict[str, float]:
        now = self._read_calls()
        return {m: now[(m, strategy)] - self._calls[(m, strategy)] for m in METHODS}

    def passes(self, strategy: str) -> float:
        return passes(strategy) - self._passes[strategy]


def trongrid_requests(bench: ChainBench, *paths: str) -> FaultRule:
    """A rule that injects nothing and counts devnet's requests on `paths` (.matched)."""
    return bench.devnet.faults.add(paths=paths)


async def passes_at_least(tally: Tally, strategy: str, count: int) -> None:
    async def enough() -> bool:
        return tally.passes(strategy) >= count

    await eventually(enough)


def per_block(rule: FaultRule, first_head: int, bench: ChainBench) -> float:
    return rule.matched / max(1, bench.devnet.head_number - first_head)


async def test_with_no_open_invoice_only_the_solidified_head_is_read_now_and_then(
    bench: ChainBench, watching: Gateway, mongo_url: str
) -> None:
    tally = Tally()
    block_reads = trongrid_requests(bench, "/wallet/getblockbynum", "/walletsolidity/getblockbynum", "/v1/")
    everything, head = trongrid_requests(bench, "/wallet", "/v1/"), bench.devnet.head_number
    start = await watcher_cursor(mongo_url, watching.database)

    await passes_at_least(tally, HEARTBEAT, 20)  # 2 s of passes every 0.1 s; a heartbeat every 0.5 s

    calls = tally.calls(HEARTBEAT)
    assert (calls["GetBlockTransfers"], calls["ListAddressTransfers"], calls["GetTransactionInfo"]) == (0, 0, 0)
    assert 1 <= calls["GetNowBlock"] <= tally.passes(HEARTBEAT) / 3
    assert (tally.passes(HISTORY), tally.passes(SCAN), block_reads.matched) == (0, 0, 0)
    moved = await watcher_cursor(mongo_url, watching.database)
    assert start is not None and moved is not None and moved["block"] > start["block"]
    print(f"\nheartbeat: {per_block(everything, head, bench):.2f} TronGrid requests per block")


async def test_with_fewer_open_invoices_than_the_threshold_the_addresses_histories_are_read(
    bench: ChainBench, watching: Gateway, devnet_accounts
) -> None:
    invoice = await create_invoice(watching, asset=USDT, amount_base_units=2_000_000)
    tally = Tally()
    histories = trongrid_requests(bench, "/v1/accounts/")
    everything, head = trongrid_requests(bench, "/wallet", "/v1/"), bench.devnet.head_number

    txid = await bench.pay_usdt(devnet_accounts[0], invoice.deposit_address, 2_000_000)
    paid = await until(watching, invoice.invoice_id, lambda i: i.status == pg.INVOICE_STATUS_PAID)

    calls = tally.calls(HISTORY)
    assert calls["ListAddressTransfers"] >= tally.passes(HISTORY) > 0
    assert calls["GetTransactionInfo"] >= 1 and calls["GetBlockTransfers"] >= 1
    assert histories.matched > 0
    assert (tally.passes(SCAN), tally.passes(HEARTBEAT)) == (0, 0)
    assert [(p.txid, p.state) for p in paid.payments] == [(txid, pg.PAYMENT_STATE_CREDITED)]
    print(f"\naddress history, 1 invoice: {per_block(everything, head, bench):.2f} TronGrid requests per block")


async def test_from_the_threshold_on_blocks_are_scanned_in_ranges(
    bench: ChainBench, watching: Gateway, devnet_accounts
) -> None:
    first = await create_invoice(watching, asset=USDT, amount_base_units=1_000_000)
    await create_invoice(watching, asset=USDT, amount_base_units=1_000_000)
    await passes_at_least(Tally(), SCAN, 1)  # the pass that began before the second invoice is over
    tally = Tally()
    histories = trongrid_requests(bench, "/v1/accounts/")
    everything, head = trongrid_requests(bench, "/wallet", "/v1/"), bench.devnet.head_number

    txid = await bench.pay_usdt(devnet_accounts[1], first.deposit_address, 1_000_000)
    paid = await until(watching, first.invoice_id, lambda i: i.status == pg.INVOICE_STATUS_PAID)

    calls: dict[str, Any] = tally.calls(SCAN)
    assert calls["GetBlockTransfers"] > 0 and (calls["ListAddressTransfers"], calls["GetTransactionInfo"]) == (0, 0)
    assert (tally.passes(HISTORY), tally.passes(HEARTBEAT), histories.matched) == (0, 0, 0)
    assert [(p.txid, p.state) for p in paid.payments] == [(txid, pg.PAYMENT_STATE_CREDITED)]
    print(f"\nblock scan, 2 invoices: {per_block(everything, head, bench):.2f} TronGrid requests per block")


async def test_block_scanning_reads_each_block_once_in_at_most_one_request_per_block(
    bench: ChainBench, watching: Gateway
) -> None:
    for _ in range(2):
        await create_invoice(watching, asset=USDT, amount_base_units=1_000_000)
    await passes_at_least(Tally(), SCAN, 3)  # the watcher follows the head
    everything = trongrid_requests(bench, "/wallet", "/v1/")
    ranges = trongrid_requests(bench, "/wallet/getblockbylimitnext")
    single = trongrid_requests(bench, "/wallet/getblockbynum", "/walletsolidity/getblockbynum")
    receipts = trongrid_requests(bench, "/wallet/gettransactioninfobyblocknum", "/walletsolidity/gettransactioninfo")
    first_head = bench.devnet.head_number

    await eventually(lambda: _past(bench, first_head + 20))

    blocks = bench.devnet.head_number - first_head
    # Every second block at head, in one request; the solidified head now and then; no block read twice.
    assert ranges.matched <= blocks / 2 + 2
    assert (single.matched, receipts.matched) == (0, 0)
    assert everything.matched <= blocks
    print(f"\nblock scan, no payment: {per_block(everything, first_head, bench):.2f} TronGrid requests per block")


async def _past(bench: ChainBench, number: int) -> bool:
    return bench.devnet.head_number >= number

"""Fault injection: 429 and 5xx answers, added latency, dropped connections, lagging nodes, in-process and over the
admin API."""

from __future__ import annotations

import time

import aiohttp
import httpx
import pytest
from fixtures.transactions import signed_json
from tronpy import AsyncTron
from tronpy.providers.async_http import AsyncHTTPProvider

from lucid_tron.chain import transfer_contract


async def test_a_429_rule_throttles_only_its_paths(devnet, devnet_http):
    devnet.faults.add(status=429, paths=["/wallet/getnowblock"], retry_after_s=2)

    async with devnet_http.session.post(f"{devnet.url}/wallet/getnowblock", json={}) as throttled:
        assert throttled.status == 429
        assert throttled.headers["Retry-After"] == "2"
        assert "Too Many Requests" in (await throttled.json())["Error"]
    status, _ = await devnet_http.post_status(devnet, "/wallet/getnodeinfo")
    assert status == 200


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_server_error_rule_answers_that_status(devnet, devnet_http, status):
    devnet.faults.add(status=status)

    answer_status, body = await devnet_http.post_status(devnet, "/wallet/getnowblock")

    assert answer_status == status
    assert "Error" in body


async def test_a_rule_with_a_count_expires_after_that_many_requests(devnet, devnet_http):
    devnet.faults.add(status=503, count=2)

    statuses = [(await devnet_http.post_status(devnet, "/wallet/getnowblock"))[0] for _ in range(3)]

    assert statuses == [503, 503, 200]
    assert devnet.faults.rules == []


async def test_a_rate_below_one_fails_some_requests_and_serves_the_others(devnet, devnet_http):
    devnet.faults.add(status=429, rate=0.5)

    statuses = {(await devnet_http.post_status(devnet, "/wallet/getnowblock"))[0] for _ in range(40)}

    assert statuses == {200, 429}


async def test_latency_delays_the_answer(devnet, devnet_http):
    devnet.faults.add(latency_ms=300, paths=["/wallet/getnowblock"])

    started = time.monotonic()
    status, _ = await devnet_http.post_status(devnet, "/wallet/getnowblock")

    assert status == 200
    assert time.monotonic() - started >= 0.3


async def test_a_dropped_connection_gets_no_answer_at_all(devnet, devnet_http):
    devnet.faults.add(drop=1.0, paths=["/wallet/getnowblock"], count=1)

    with pytest.raises(aiohttp.ServerDisconnectedError):
        await devnet_http.post_status(devnet, "/wallet/getnowblock")
    status, _ = await devnet_http.post_status(devnet, "/wallet/getnowblock")
    assert status == 200


async def test_tronpy_sees_a_dropped_connection_as_a_transport_error(devnet):
    devnet.faults.add(drop=1.0)
    client = AsyncTron(AsyncHTTPProvider(devnet.url))
    try:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get_latest_block_number()
    finally:
        await client.close()


async def test_the_admin_api_adds_lists_and_clears_rules(devnet, devnet_http):
    added = await devnet_http.post(devnet, "/devnet/faults", {"status": 429, "rate": 1.0, "paths": ["/wallet/"]})
    throttled, _ = await devnet_http.post_status(devnet, "/wallet/getnowblock")
    admin_still_served, _ = await devnet_http.post_status(devnet, "/devnet/info")
    async with devnet_http.session.delete(f"{devnet.url}/devnet/faults") as cleared:
        assert (await cleared.json()) == {"rules": []}
    served, _ = await devnet_http.post_status(devnet, "/wallet/getnowblock")

    assert added["rules"][0]["status"] == 429
    assert (throttled, admin_still_served, served) == (429, 200, 200)


async def test_the_admin_api_refuses_an_invalid_rule(devnet, devnet_http):
    status, body = await devnet_http.post_status(devnet, "/devnet/faults", {"status": 200})

    assert status == 400
    assert "status must be" in body["Error"]


async def test_tronpy_raises_on_a_throttled_answer(devnet):
    devnet.faults.add(status=429)
    client = AsyncTron(AsyncHTTPProvider(devnet.url))
    try:
        with pytest.raises(httpx.HTTPStatusError):
            await client.get_latest_block_number()
    finally:
        await client.close()


async def test_the_same_fault_seed_fails_the_same_requests(start_devnet, devnet_http):
    runs = []
    for _ in range(2):
        async with start_devnet(block_interval=0, fault_seed=7) as running:
            running.faults.add(status=503, rate=0.3)
            runs.append([(await devnet_http.post_status(running, "/wallet/getnowblock"))[0] for _ in range(20)])

    assert runs[0] == runs[1]


async def test_a_lagging_nodes_rule_serves_heads_up_to_that_many_blocks_behind_so_the_head_goes_backwards(
    devnet, devnet_http
):
    devnet.produce_blocks(10)
    devnet.faults.add(lag_blocks=3, rate=0.5, paths=["/wallet/getnowblock"])

    heads = [(await devnet_http.post(devnet, "/wallet/getnowblock"))["block_header"]["raw_data"]["number"]
             for _ in range(40)]

    assert set(heads) == {7, 8, 9, 10}
    assert any(later < earlier for earlier, later in zip(heads, heads[1:]))


async def test_behind_a_lagging_node_a_receipt_that_was_seen_vanishes_and_comes_back(
    devnet, devnet_http, devnet_accounts
):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000))
    assert (await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx))["result"] is True
    devnet.produce_block()
    seen = await devnet_http.post(devnet, "/wallet/gettransactioninfobyid", {"value": tx["txID"]})
    await devnet_http.post(devnet, "/devnet/faults", {"lag_blocks": 1, "rate": 0.5})

    answers = [await devnet_http.post(devnet, "/wallet/gettransactioninfobyid", {"value": tx["txID"]})
               for _ in range(30)]

    assert seen["blockNumber"] == 1
    first_gap = answers.index({})
    assert seen in answers[first_gap:], "the receipt never came back"


async def test_a_lagging_node_reads_the_state_of_its_own_head(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000))
    assert (await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx))["result"] is True
    devnet.produce_block()
    devnet.faults.add(lag_blocks=1, paths=["/wallet/getaccount"])

    account = await devnet_http.post(devnet, "/wallet/getaccount", {"address": receiver.address, "visible": True})

    assert account["balance"] == 10_000_000_000
    assert devnet.trx_balance(receiver.address) == 10_001_000_000


async def test_the_admin_api_adds_and_lists_a_lagging_nodes_rule(devnet, devnet_http):
    added = await devnet_http.post(devnet, "/devnet/faults", {"lag_blocks": 2, "rate": 0.25})
    status, refused = await devnet_http.post_status(devnet, "/devnet/faults", {"lag_blocks": 33})

    assert added["rules"][0]["lag_blocks"] == 2 and added["rules"][0]["rate"] == 0.25
    assert status == 400 and "lag_blocks" in refused["Error"]

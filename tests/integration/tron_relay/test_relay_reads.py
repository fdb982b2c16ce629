"""tron-relay's reads over real gRPC: the answer, where it came from and how old it is, cached in a real Redis."""

from __future__ import annotations

import asyncio
import hashlib

import grpc
import pytest

from fixtures.transactions import requests_to, signed
from integration.tron_relay.tron_relay_kit import age_s, seconds, start_relay
from lucid.tron.v1 import common_pb2
from lucid.tron.v1 import relay_pb2 as pb
from lucid_tron.chain import PrivateKey, transaction_to_json, trc20_transfer
from fixtures.devnet import FUNDED_TRX_SUN

HEAD, SOLIDIFIED = common_pb2.FINALITY_HEAD, common_pb2.FINALITY_SOLIDIFIED


async def test_the_first_read_is_fetched_and_the_next_comes_from_the_cache_with_its_age(relay, devnet):
    fetches = requests_to(devnet, "/walletsolidity/getnowblock")

    first = await relay.stub.GetNowBlock(pb.RelayServiceGetNowBlockRequest())
    await asyncio.sleep(0.05)
    second = await relay.stub.GetNowBlock(pb.RelayServiceGetNowBlockRequest())

    assert (first.cache.from_cache, first.cache.stale, age_s(first.cache)) == (False, False, 0)
    assert (second.cache.from_cache, second.cache.stale) == (True, False) and 0.05 <= age_s(second.cache) < 3
    assert second.block == first.block and first.block.solidified
    assert fetches.matched == 1


async def test_the_head_is_read_again_once_its_short_ttl_passed(devnet, relay_redis_url):
    async with start_relay(devnet, relay_redis_url, head_block_ttl_s=0.1) as relay:
        request = pb.RelayServiceGetNowBlockRequest(finality=HEAD)
        before = (await relay.stub.GetNowBlock(request)).block.number
        devnet.produce_block()
        cached = await relay.stub.GetNowBlock(request)
        await asyncio.sleep(0.15)
        refreshed = await relay.stub.GetNowBlock(request)

    assert (cached.block.number, cached.cache.from_cache) == (before, True)
    assert (refreshed.block.number, refreshed.cache.from_cache) == (before + 1, False)


async def test_a_callers_max_age_shorter_than_the_entry_forces_a_fetch(relay, devnet, devnet_accounts):
    request = pb.RelayServiceGetAccountRequest(address=devnet_accounts[0].address, finality=HEAD)
    await relay.stub.GetAccount(request)
    await asyncio.sleep(0.02)

    request.max_age.CopyFrom(seconds(0.01))
    answer = await relay.stub.GetAccount(request)

    assert not answer.cache.from_cache


async def test_get_account_answers_the_account_and_caches_each_view_apart(relay, devnet, devnet_accounts):
    address = devnet_accounts[0].address
    solid = await relay.stub.GetAccount(pb.RelayServiceGetAccountRequest(address=address))
    head = await relay.stub.GetAccount(pb.RelayServiceGetAccountRequest(address=address, finality=HEAD))

    assert (solid.account.activated, solid.account.balance_sun) == (True, FUNDED_TRX_SUN)
    assert not solid.cache.from_cache and not head.cache.from_cache


async def test_get_account_resources_answers_from_the_cache_the_second_time(relay, devnet_accounts):
    request = pb.RelayServiceGetAccountResourcesRequest(address=devnet_accounts[0].address)
    first = await relay.stub.GetAccountResources(request)
    second = await relay.stub.GetAccountResources(request)

    assert first.resources.free_bandwidth_limit == 600 and first.resources.address == devnet_accounts[0].address
    assert second.resources == first.resources and second.cache.from_cache


async def test_get_transaction_info_is_not_found_until_included_and_a_solidified_receipt_stays_cached(
    devnet, relay_redis_url, devnet_accounts, devnet_http
):
    payer, payee = devnet_accounts[0], devnet_accounts[1]
    async with start_relay(devnet, relay_redis_url, not_found_ttl_s=0.05) as relay:
        transfer = trc20_transfer(payer.address, devnet.usdt_address, payee.address, 3)
        tx = signed(devnet, payer.key, transfer, fee_limit_sun=10**8)
        txid = (await devnet_http.post(devnet, "/wallet/broadcasttransaction", transaction_to_json(tx)))["txid"]

        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await relay.stub.GetTransactionInfo(pb.RelayServiceGetTransactionInfoRequest(txid=txid, finality=HEAD))
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
        devnet.produce_block()
        await asyncio.sleep(0.06)
        at_head = await relay.stub.GetTransactionInfo(
            pb.RelayServiceGetTransactionInfoRequest(txid=txid, finality=HEAD)
        )
        devnet.solidify()
        await asyncio.sleep(0.06)
        solid = await relay.stub.GetTransactionInfo(pb.RelayServiceGetTransactionInfoRequest(txid=txid))
        fetches = requests_to(devnet, "/walletsolidity/gettransactioninfobyid")
        final = await relay.stub.GetTransactionInfo(
            pb.RelayServiceGetTransactionInfoRequest(txid=txid, max_age=seconds(0.000001))
        )

    assert (at_head.receipt.solidified, solid.receipt.solidified) == (False, True)
    assert solid.receipt.result == common_pb2.EXECUTION_RESULT_SUCCESS and len(solid.receipt.logs) == 1
    # Final: served from the cache even to a caller that accepts nothing older than a microsecond.
    assert final.cache.from_cache and not final.cache.stale and final.receipt == solid.receipt
    assert fetches.matched == 0


async def test_relays_sharing_a_redis_share_the_cache(devnet, relay_redis_url, devnet_accounts, redis_client):
    address = devnet_accounts[0].address
    fetches = requests_to(devnet, "/walletsolidity/getaccount")
    async with start_relay(devnet, relay_redis_url) as one, start_relay(devnet, relay_redis_url) as other:
        await one.stub.GetAccount(pb.RelayServiceGetAccountRequest(address=address))
        answer = await other.stub.GetAccount(pb.RelayServiceGetAccountRequest(address=address))

    assert answer.cache.from_cache and fetches.matched == 1
    assert any(key.startswith(b"lucid:tron-relay:v1:") for key in await redis_client.keys("*"))


async def test_an_address_never_activated_is_answered_and_cached(relay):
    stranger = PrivateKey(hashlib.sha256(b"stranger").digest()).address
    request = pb.RelayServiceGetAccountRequest(address=stranger)

    await relay.stub.GetAccount(request)
    answer = await relay.stub.GetAccount(request)

    assert (answer.account.activated, answer.account.balance_sun, answer.cache.from_cache) == (False, 0, True)


async def test_redis_keeps_each_entry_for_its_kinds_ttl_plus_the_stale_window(relay, devnet, redis_client):
    await relay.stub.GetNowBlock(pb.RelayServiceGetNowBlockRequest(finality=HEAD))
    await relay.stub.GetAccount(pb.RelayServiceGetAccountRequest(address=devnet.usdt_address))

    ttls = {key.decode().split(":")[-2]: await redis_client.pttl(key) for key in await redis_client.keys("*")}

    assert 600_000 < ttls["head-block"] <= 601_000  # 1 s fresh + 600 s to be served stale
    assert 602_000 < ttls["solidified-account"] <= 603_000  # 3 s + 600 s


async def test_a_hot_read_is_answered_from_the_relays_memory_not_one_redis_get_per_call(relay, redis_client):
    request = pb.RelayServiceGetNowBlockRequest()
    await relay.stub.GetNowBlock(request)  # fetched: stored in Redis and kept in the relay's in-process L1
    gets_before = await _redis_gets(redis_client)

    answers = await asyncio.gather(*(relay.stub.GetNowBlock(request) for _ in range(50)))

    assert all(a.cache.from_cache and not a.cache.stale for a in answers)
    # Within one 250 ms window: none. A loaded machine may cross a window or two, each costing one (shared) GET.
    assert await _redis_gets(redis_client) - gets_before <= 2


async def _redis_gets(redis_client) -> int:
    return int((await redis_client.info("commandstats")).get("cmdstat_get", {}).get("calls", 0))

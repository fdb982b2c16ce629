"""Identical reads in flight at the same time cost TronGrid one request (single-flight, per relay process)."""

from __future__ import annotations

import asyncio

import grpc

from fixtures.transactions import requests_to
from lucid.tron.v1 import relay_pb2 as pb

CALLERS = 25


async def test_concurrent_identical_reads_make_one_devnet_request(relay, devnet, devnet_accounts):
    # Devnet answers slowly, so every caller arrives while the first request is still out: 1.5 s, because sending 25
    # calls took longer than 0.3 s on a loaded CI machine, and a caller arriving after the answer is a cache hit.
    devnet.faults.add(latency_ms=1500, paths=("/walletsolidity/getaccount",))
    fetches = requests_to(devnet, "/walletsolidity/getaccount")
    request = pb.RelayServiceGetAccountRequest(address=devnet_accounts[0].address)

    answers = await asyncio.gather(*(relay.stub.GetAccount(request) for _ in range(CALLERS)))

    assert fetches.matched == 1
    assert len({answer.account.SerializeToString() for answer in answers}) == 1
    assert all(not answer.cache.from_cache for answer in answers)


async def test_concurrent_reads_of_different_accounts_are_not_merged(relay, devnet, devnet_accounts):
    devnet.faults.add(latency_ms=200, paths=("/walletsolidity/getaccount",))
    fetches = requests_to(devnet, "/walletsolidity/getaccount")

    answers = await asyncio.gather(
        *(
            relay.stub.GetAccount(pb.RelayServiceGetAccountRequest(address=account.address))
            for account in devnet_accounts
            for _ in range(5)
        )
    )

    assert fetches.matched == len(devnet_accounts)
    assert [answer.account.address for answer in answers] == [a.address for a in devnet_accounts for _ in range(5)]


async def test_a_caller_with_a_short_deadline_does_not_cut_the_shared_read_short_for_the_others(
    relay, devnet, devnet_accounts
):
    devnet.faults.add(latency_ms=400, paths=("/walletsolidity/getaccount",))
    fetches = requests_to(devnet, "/walletsolidity/getaccount")
    request = pb.RelayServiceGetAccountRequest(address=devnet_accounts[1].address)

    impatient = asyncio.ensure_future(relay.stub.GetAccount(request, timeout=0.1))
    await asyncio.sleep(0.02)
    patient = await relay.stub.GetAccount(request, timeout=5)

    assert patient.account.activated and fetches.matched == 1
    (cut_short,) = await asyncio.gather(impatient, return_exceptions=True)
    assert cut_short.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)

"""`lucid-tron up --tor`: the mesh reads and writes the chain through a real Tor network, and devnet is reached only
by Tor's exit.

Why a read that succeeds proves it went through Tor: the services know devnet only as http://trongrid.test:<port>, a
name that nothing on this machine resolves; only the exit relay's resolver (the Tor network's DNS stub) maps it to
127.0.0.1. The connect() traces of test_up_tor_outage.py show no service ever sent a DNS query.
"""

from __future__ import annotations

import asyncio
import hashlib
import time

import grpc
import pytest

from e2e.e2e_up import Up, operator_credentials
from lucid.tron.v1 import common_pb2, relay_pb2, relay_pb2_grpc
from lucid.tron.v1 import tron_client_pb2 as pb
from lucid_tron.chain import PrivateKey, build_transaction, sign_transaction, transfer_contract
from tor_e2e.tor_e2e_kit import PAYER, PAYER_TRX_SUN, TronClientCaller, loopback_tcp_connections_to

pytestmark = [pytest.mark.tor, pytest.mark.e2e]

PAYEE = PrivateKey(hashlib.sha256(b"lucid-tron tor e2e payee").digest()).address


def test_endpoints_json_says_where_tor_is_and_the_name_services_use_for_devnet(tor_mesh: Up) -> None:
    tor = tor_mesh.endpoints["tor"]
    devnet_port = int(tor_mesh.endpoints["devnet"]["url"].rsplit(":", 1)[1])
    assert tor_mesh.endpoints["devnet"]["url"] == f"http://127.0.0.1:{devnet_port}"
    assert tor["trongrid_url"] == f"http://trongrid.test:{devnet_port}"
    assert set(tor["pids"]) == {"auth0", "auth1", "auth2", "client"}
    assert tor["up_pid"] == tor_mesh.process.pid
    assert tor["control_cookie_path"].startswith(tor["data_dir"])
    assert {tor["socks_port"], tor["control_port"]}.isdisjoint({devnet_port})


async def test_tron_client_reads_the_head_block_and_an_account_through_tor(tron_client: TronClientCaller) -> None:
    head = await tron_client.stub.GetNowBlock(pb.GetNowBlockRequest(finality=common_pb2.FINALITY_HEAD), timeout=15)
    account = await tron_client.stub.GetAccount(pb.GetAccountRequest(address=PAYER.address), timeout=15)

    assert len(head.block.block_id) == 64 and int(head.block.block_id[:16], 16) == head.block.number
    assert account.account.activated
    assert account.account.balance_sun > 0
    assert account.account.balance_sun <= PAYER_TRX_SUN


async def test_tron_relay_reads_through_tor_too(tor_mesh: Up) -> None:
    credentials = operator_credentials(tor_mesh.endpoints)
    async with grpc.aio.secure_channel(tor_mesh.endpoints["services"]["tron-relay"], credentials) as channel:
        answer = await relay_pb2_grpc.RelayServiceStub(channel).GetNowBlock(
            relay_pb2.RelayServiceGetNowBlockRequest(finality=common_pb2.FINALITY_HEAD), timeout=15
        )
    assert len(answer.block.block_id) == 64


async def test_a_trx_transfer_broadcast_through_tor_lands_in_a_block(tron_client: TronClientCaller) -> None:
    stub = tron_client.stub
    head = (await stub.GetNowBlock(pb.GetNowBlockRequest(finality=common_pb2.FINALITY_HEAD), timeout=15)).block
    now_ms = int(time.time() * 1000)
    tx = sign_transaction(
        build_transaction(
            transfer_contract(PAYER.address, PAYEE, 1_234_567),
            ref_block_number=head.number,
            ref_block_id=head.block_id,
            expiration_ms=now_ms + 60_000,
            timestamp_ms=now_ms,
        ),
        PAYER,
    )

    sent = await stub.BroadcastTransaction(
        pb.BroadcastTransactionRequest(raw_data=tx.raw_data.SerializeToString(), signatures=list(tx.signature)),
        timeout=15,
    )
    receipt = None
    async with asyncio.timeout(20):
        while receipt is None:
            try:
                request = pb.GetTransactionInfoRequest(txid=sent.txid, finality=common_pb2.FINALITY_HEAD)
                receipt = (await stub.GetTransactionInfo(request, timeout=15)).receipt
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.NOT_FOUND, error
                await asyncio.sleep(0.25)
    payee_request = pb.GetAccountRequest(address=PAYEE, finality=common_pb2.FINALITY_HEAD)
    payee = (await stub.GetAccount(payee_request, timeout=15)).account

    assert sent.txid == hashlib.sha256(tx.raw_data.SerializeToString()).hexdigest() and not sent.duplicate
    assert receipt.result == common_pb2.EXECUTION_RESULT_SUCCESS
    assert receipt.block_number > head.number
    assert payee.activated and payee.balance_sun == 1_234_567


async def test_devnet_is_connected_to_by_the_exit_relay_only_never_by_a_service(
    tor_mesh: Up, tron_client: TronClientCaller
) -> None:
    devnet_port = int(tor_mesh.endpoints["devnet"]["url"].rsplit(":", 1)[1])
    assert (await tron_client.now_block()).ok  # the exit keeps its connection to devnet while the stream is open

    connections = loopback_tcp_connections_to(devnet_port)

    exit_pid = tor_mesh.endpoints["tor"]["pids"]["auth0"]
    assert connections, "no TCP connection to devnet right after a read"
    assert {connection.pid for connection in connections} == {exit_pid}, connections

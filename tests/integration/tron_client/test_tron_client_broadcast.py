"""BroadcastTransaction over real gRPC against devnet: checked locally, landed in a block, idempotent, and what
the client got wrong never reaches the network."""

from __future__ import annotations

import asyncio
import hashlib
import time

import grpc
import pytest

from fixtures.rpc_errors import error_reason, field_violations
from fixtures.transactions import requests_to, signed
from integration.tron_client.tron_client_kit import broadcast_request, start_tron_client
from lucid.tron.v1 import common_pb2
from lucid.tron.v1 import tron_client_pb2 as pb
from lucid_tron.chain import PrivateKey, sign_transaction, transfer_contract, trc20_transfer
from fixtures.devnet import FUNDED_TRX_SUN

BROADCAST_PATH = "/wallet/broadcasttransaction"
NEWCOMER = PrivateKey(hashlib.sha256(b"newcomer").digest()).address


async def test_a_transaction_signed_with_a_private_key_lands_in_a_block(start_devnet, devnet_accounts):
    payer, payee = devnet_accounts[0], devnet_accounts[1]
    async with start_devnet(block_interval=0.05) as devnet, start_tron_client(devnet) as client:
        transfer = trc20_transfer(payer.address, devnet.usdt_address, payee.address, 2_500_000)
        tx = signed(devnet, payer.key, transfer, fee_limit_sun=100_000_000)

        sent = await client.stub.BroadcastTransaction(broadcast_request(tx))
        receipt = None
        async with asyncio.timeout(10):
            while receipt is None:
                try:
                    request = pb.GetTransactionInfoRequest(txid=sent.txid, finality=common_pb2.FINALITY_HEAD)
                    receipt = (await client.stub.GetTransactionInfo(request)).receipt
                except grpc.aio.AioRpcError as error:
                    assert error.code() == grpc.StatusCode.NOT_FOUND
                    await asyncio.sleep(0.05)
        block = await client.stub.GetBlock(pb.GetBlockRequest(block_number=receipt.block_number))

    assert sent.txid == hashlib.sha256(tx.raw_data.SerializeToString()).hexdigest() and not sent.duplicate
    assert sent.expiration_time.ToMilliseconds() == tx.raw_data.expiration
    assert receipt.result == common_pb2.EXECUTION_RESULT_SUCCESS
    assert sent.txid in block.txids


async def test_broadcasting_the_same_bytes_again_succeeds_as_a_duplicate(tron_client, devnet, devnet_accounts):
    payer = devnet_accounts[0]
    tx = signed(devnet, payer.key, transfer_contract(payer.address, NEWCOMER, 1_000_000))

    first = await tron_client.stub.BroadcastTransaction(broadcast_request(tx))
    again = await tron_client.stub.BroadcastTransaction(broadcast_request(tx))
    devnet.produce_block()
    after_inclusion = await tron_client.stub.BroadcastTransaction(broadcast_request(tx))

    assert (first.duplicate, again.duplicate, after_inclusion.duplicate) == (False, True, True)
    assert first.txid == again.txid == after_inclusion.txid
    assert devnet.trx_balance(NEWCOMER) == 1_000_000  # once


async def test_a_tampered_signature_is_invalid_argument_and_never_reaches_devnet(tron_client, devnet, devnet_accounts):
    payer = devnet_accounts[0]
    tx = signed(devnet, payer.key, transfer_contract(payer.address, NEWCOMER, 1_000_000))
    signature = tx.signature[0]
    tampered = signature[:5] + bytes([signature[5] ^ 0x01]) + signature[6:]
    broadcasts = requests_to(devnet, BROADCAST_PATH)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await tron_client.stub.BroadcastTransaction(broadcast_request(tx, signatures=[tampered]))

    assert "signatures[0]" in field_violations(raised.value)
    assert broadcasts.matched == 0
    assert devnet.chain.pending_txids == []


async def test_a_signature_by_a_key_that_does_not_own_the_account_never_reaches_devnet(
    tron_client, devnet, devnet_accounts
):
    owner, intruder = devnet_accounts[0], devnet_accounts[1]
    tx = signed(devnet, intruder.key, transfer_contract(owner.address, intruder.address, 1_000_000))
    broadcasts = requests_to(devnet, BROADCAST_PATH)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await tron_client.stub.BroadcastTransaction(broadcast_request(tx))

    assert intruder.address in field_violations(raised.value)["signatures[0]"]
    assert broadcasts.matched == 0


async def test_a_txid_that_does_not_match_the_raw_data_is_invalid_argument_and_nothing_is_sent(
    tron_client, devnet, devnet_accounts
):
    payer = devnet_accounts[0]
    tx = signed(devnet, payer.key, transfer_contract(payer.address, NEWCOMER, 1_000_000))
    broadcasts = requests_to(devnet, BROADCAST_PATH)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await tron_client.stub.BroadcastTransaction(broadcast_request(tx, txid="00" * 32))

    assert "txid" in field_violations(raised.value) and broadcasts.matched == 0


async def test_an_expired_transaction_is_refused_by_the_node_as_failed_precondition_with_trons_code(
    tron_client, devnet, devnet_accounts
):
    payer = devnet_accounts[0]
    now = int(time.time() * 1000)
    transfer = transfer_contract(payer.address, NEWCOMER, 1)
    tx = signed(devnet, payer.key, transfer, expiration_ms=now - 1_000, timestamp_ms=now - 60_000)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await tron_client.stub.BroadcastTransaction(broadcast_request(tx))

    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "TRANSACTION_EXPIRATION_ERROR"


async def test_spending_more_than_the_balance_is_refused_as_contract_validate_error(
    tron_client, devnet, devnet_accounts
):
    payer = devnet_accounts[0]
    tx = signed(devnet, payer.key, transfer_contract(payer.address, NEWCOMER, FUNDED_TRX_SUN * 2))

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await tron_client.stub.BroadcastTransaction(broadcast_request(tx))

    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "CONTRACT_VALIDATE_ERROR"
    assert devnet.chain.pending_txids == []


async def test_a_reference_to_a_block_of_another_chain_is_refused_as_tapos_error(
    tron_client, devnet, devnet_accounts, start_devnet
):
    payer = devnet_accounts[0]
    async with start_devnet(block_interval=0, seed="another network") as other:
        other.produce_blocks(3)
        tx = signed(other, payer.key, transfer_contract(payer.address, NEWCOMER, 1))

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await tron_client.stub.BroadcastTransaction(broadcast_request(tx))

    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "TAPOS_ERROR"


async def test_a_second_owner_signature_is_refused_locally(tron_client, devnet, devnet_accounts):
    payer = devnet_accounts[0]
    owner_signed = signed(devnet, payer.key, transfer_contract(payer.address, NEWCOMER, 1))
    tx = sign_transaction(owner_signed, devnet_accounts[1].key)
    broadcasts = requests_to(devnet, BROADCAST_PATH)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await tron_client.stub.BroadcastTransaction(broadcast_request(tx))

    assert set(field_violations(raised.value)) == {"signatures[1]"} and broadcasts.matched == 0

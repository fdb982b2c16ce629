"""BroadcastTransaction over real gRPC against devnet: checked locally, landed in a block, idempotent, sent as the
exact signed bytes, and what the client got wrong, or what java-tron would refuse, never reaches the network."""

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
from lucid_tron.chain import (
    SECP256K1_N,
    PrivateKey,
    decode_address,
    encode_transfer,
    make_contract,
    protocol,
    sign_transaction,
    transfer_contract,
    trc20_transfer,
)
from lucid_tron.devnet import Devnet, FaultRule
from lucid_tron.trongrid import BROADCAST_PATHS
from fixtures.devnet import FUNDED_TRX_SUN

NEWCOMER = PrivateKey(hashlib.sha256(b"newcomer").digest()).address
DAY_MS = 24 * 3600 * 1000


def broadcasts_to(devnet: Devnet) -> FaultRule:
    """Counts what devnet receives on either broadcast path (broadcasttransaction, broadcasthex)."""
    return devnet.faults.add(paths=tuple(BROADCAST_PATHS))


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
    broadcasts = broadcasts_to(devnet)

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
    broadcasts = broadcasts_to(devnet)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await tron_client.stub.BroadcastTransaction(broadcast_request(tx))

    assert intruder.address in field_violations(raised.value)["signatures[0]"]
    assert broadcasts.matched == 0


async def test_a_txid_that_does_not_match_the_raw_data_is_invalid_argument_and_nothing_is_sent(
    tron_client, devnet, devnet_accounts
):
    payer = devnet_accounts[0]
    tx = signed(devnet, payer.key, transfer_contract(payer.address, NEWCOMER, 1_000_000))
    broadcasts = broadcasts_to(devnet)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await tron_client.stub.BroadcastTransaction(broadcast_request(tx, txid="00" * 32))

    assert "txid" in field_violations(raised.value) and broadcasts.matched == 0


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
    broadcasts = broadcasts_to(devnet)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await tron_client.stub.BroadcastTransaction(broadcast_request(tx))

    assert set(field_violations(raised.value)) == {"signatures[1]"} and broadcasts.matched == 0


async def test_the_exact_signed_bytes_go_to_broadcasthex_and_land_unchanged(tron_client, devnet, devnet_accounts):
    payer, payee = devnet_accounts[0], devnet_accounts[1]
    transfer = trc20_transfer(payer.address, devnet.usdt_address, payee.address, 1_000_000)
    tx = signed(devnet, payer.key, transfer, fee_limit_sun=100_000_000, memo=b"invoice 42")
    as_hex, as_json = requests_to(devnet, "/wallet/broadcasthex"), requests_to(devnet, "/wallet/broadcasttransaction")

    await tron_client.stub.BroadcastTransaction(broadcast_request(tx))
    devnet.produce_block()

    (landed,) = (protocol.Transaction.FromString(raw) for raw in devnet.chain.head.transactions)
    assert (as_hex.matched, as_json.matched) == (1, 0)
    assert landed.raw_data.SerializeToString() == tx.raw_data.SerializeToString()
    assert list(landed.signature) == list(tx.signature)


# -- what java-tron refuses is refused here, and never sent --------------------------------------------------------


def with_raw_data(tx: protocol.Transaction, key: PrivateKey, **fields: int) -> protocol.Transaction:
    """`tx` with raw_data `fields` set as the builder would not allow, signed again by `key`."""
    raw = protocol.Transaction.raw()
    raw.CopyFrom(tx.raw_data)
    for name, value in fields.items():
        setattr(raw, name, value)
    return sign_transaction(protocol.Transaction(raw_data=raw), key)


def refused_transaction(case: str, devnet: Devnet, payer, other) -> tuple[str, protocol.Transaction]:
    """The reason tron-client gives and a transaction signed by `payer` that java-tron would refuse."""
    now = int(time.time() * 1000)
    owner, receiver = decode_address(payer.address), decode_address(other.address)
    usdt = decode_address(devnet.usdt_address)
    one_sun = transfer_contract(payer.address, NEWCOMER, 1)
    energy = protocol.ENERGY
    contracts = {
        "zero TRX": protocol.TransferContract(owner_address=owner, to_address=receiver, amount=0),
        "negative TRX": protocol.TransferContract(owner_address=owner, to_address=receiver, amount=-5),
        "TRX to self": protocol.TransferContract(owner_address=owner, to_address=owner, amount=1),
        "negative call value": protocol.TriggerSmartContract(
            owner_address=owner, contract_address=usdt, call_value=-1, data=encode_transfer(other.address, 1)
        ),
        "stake of zero": protocol.FreezeBalanceV2Contract(owner_address=owner, frozen_balance=0, resource=energy),
        "stake under 1 TRX": protocol.FreezeBalanceV2Contract(
            owner_address=owner, frozen_balance=999_999, resource=energy
        ),
        "unstake of zero": protocol.UnfreezeBalanceV2Contract(
            owner_address=owner, unfreeze_balance=0, resource=energy
        ),
        "delegation under 1 TRX": protocol.DelegateResourceContract(
            owner_address=owner, receiver_address=receiver, balance=999_999, resource=energy
        ),
        "delegation to self": protocol.DelegateResourceContract(
            owner_address=owner, receiver_address=owner, balance=1_000_000, resource=energy
        ),
        "undelegation of zero": protocol.UnDelegateResourceContract(
            owner_address=owner, receiver_address=receiver, balance=0, resource=energy
        ),
        "undelegation from self": protocol.UnDelegateResourceContract(
            owner_address=owner, receiver_address=owner, balance=1_000_000, resource=energy
        ),
    }
    if case in contracts:
        # make_contract, not the builders: they refuse these amounts and receivers themselves.
        return REFUSED[case], signed(devnet, payer.key, make_contract(contracts[case]), fee_limit_sun=100_000_000)
    timing = {
        "expired": {"expiration": now - 1_000, "timestamp": now - 60_000},
        "more than 24 h ahead": {"expiration": now + DAY_MS + 60_000, "timestamp": now},
        "expiring before its timestamp": {"expiration": now + 60_000, "timestamp": now + 120_000},
        "expiring at its timestamp": {"expiration": now + 60_000, "timestamp": now + 60_000},
    }
    return REFUSED[case], with_raw_data(signed(devnet, payer.key, one_sun), payer.key, **timing[case])


REFUSED = {
    "expired": "TRANSACTION_EXPIRED",
    "more than 24 h ahead": "EXPIRATION_TOO_FAR",
    "expiring before its timestamp": "EXPIRATION_NOT_AFTER_TIMESTAMP",
    "expiring at its timestamp": "EXPIRATION_NOT_AFTER_TIMESTAMP",
    "zero TRX": "AMOUNT_NOT_POSITIVE",
    "negative TRX": "AMOUNT_NOT_POSITIVE",
    "TRX to self": "TRANSFER_TO_SELF",
    "negative call value": "CALL_VALUE_NEGATIVE",
    "stake of zero": "AMOUNT_NOT_POSITIVE",
    "stake under 1 TRX": "AMOUNT_BELOW_MINIMUM",
    "unstake of zero": "AMOUNT_NOT_POSITIVE",
    "delegation under 1 TRX": "AMOUNT_BELOW_MINIMUM",
    "delegation to self": "DELEGATION_TO_SELF",
    "undelegation of zero": "AMOUNT_NOT_POSITIVE",
    "undelegation from self": "DELEGATION_TO_SELF",
}


@pytest.mark.parametrize("case", REFUSED)
async def test_what_java_tron_refuses_is_failed_precondition_with_its_reason_and_never_reaches_devnet(
    tron_client, devnet, devnet_accounts, case
):
    reason, tx = refused_transaction(case, devnet, devnet_accounts[0], devnet_accounts[1])
    broadcasts = broadcasts_to(devnet)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await tron_client.stub.BroadcastTransaction(broadcast_request(tx))

    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == reason
    assert broadcasts.matched == 0
    assert devnet.chain.pending_txids == []


def recovery_flags(v: int) -> tuple[int, int]:
    """(recovery id, 27 or 0): how a signature's last byte is written."""
    return (v - 27, 27) if v >= 27 else (v, 0)


def same_signer_twins(signature: bytes) -> dict[str, bytes]:
    """Other bytes for the same signer: v written the other way (0/1 vs 27/28), and the high-s twin (n - s)."""
    recovery_id, offset = recovery_flags(signature[64])
    other_offset = 0 if offset else 27
    s = int.from_bytes(signature[32:64], "big")
    return {
        "the same bytes": signature,
        "v written as v+27 or v-27": signature[:64] + bytes([recovery_id + other_offset]),
        "the high-s twin": signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([(recovery_id ^ 1) + offset]),
    }


@pytest.mark.parametrize("twin", ["the same bytes", "v written as v+27 or v-27", "the high-s twin"])
async def test_one_signer_twice_is_refused_as_duplicate_signer_even_with_other_bytes(
    tron_client, devnet, devnet_accounts, twin
):
    payer = devnet_accounts[0]
    tx = signed(devnet, payer.key, transfer_contract(payer.address, NEWCOMER, 1))
    signature = tx.signature[0]
    again = same_signer_twins(signature)[twin]
    broadcasts = broadcasts_to(devnet)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await tron_client.stub.BroadcastTransaction(broadcast_request(tx, signatures=[signature, again]))

    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "DUPLICATE_SIGNER"
    assert broadcasts.matched == 0
    assert devnet.chain.pending_txids == []

"""Whatever a caller sends, tron-client answers INVALID_ARGUMENT naming the field (BadRequest details), never
INTERNAL, and keeps serving. The contracts take base58 addresses only (common.proto)."""

from __future__ import annotations

import hashlib

import grpc
import pytest

from fixtures.rpc_errors import field_violations
from fixtures.transactions import requests_to
from lucid.tron.v1 import tron_client_pb2 as pb
from lucid_tron.chain import PrivateKey, to_hex

GOOD = PrivateKey(hashlib.sha256(b"good").digest()).address
BAD_CHECKSUM = GOOD[:-1] + ("A" if GOOD[-1] != "A" else "B")
TXID = "ab" * 32


def estimate(**changes: object) -> pb.EstimateEnergyRequest:
    fields: dict[str, object] = {"owner_address": GOOD, "contract_address": GOOD, "function_selector": "f()"}
    fields.update(changes)
    return pb.EstimateEnergyRequest(**fields)


def broadcast(**changes: object) -> pb.BroadcastTransactionRequest:
    # Not a transaction lucid-tron accepts, but of the right shape: what is checked is the field changed.
    fields: dict[str, object] = {"raw_data": b"\x0a\x02\x00\x00", "signatures": [b"\x01" * 65]}
    fields.update(changes)
    return pb.BroadcastTransactionRequest(**fields)


CASES = [
    # (rpc, request, the field named)
    ("GetAccount", pb.GetAccountRequest(), "address"),
    ("GetAccount", pb.GetAccountRequest(address=BAD_CHECKSUM), "address"),
    ("GetAccount", pb.GetAccountRequest(address=to_hex(GOOD)), "address"),
    ("GetAccount", pb.GetAccountRequest(address="0x" + "11" * 20), "address"),
    ("GetAccount", pb.GetAccountRequest(address="T" * 10_000), "address"),
    ("GetAccount", pb.GetAccountRequest(address="T\x00" * 17), "address"),
    ("GetAccount", pb.GetAccountRequest(address=GOOD, finality=7), "finality"),
    ("GetAccount", pb.GetAccountRequest(address=GOOD, finality=-1), "finality"),
    ("GetAccountResources", pb.GetAccountResourcesRequest(address="1BoatSLRHtKNngkdXEeobR76b53LETtpyT"), "address"),
    ("GetStake", pb.GetStakeRequest(), "address"),
    ("GetStake", pb.GetStakeRequest(address=to_hex(GOOD)), "address"),
    ("GetNowBlock", pb.GetNowBlockRequest(finality=3), "finality"),
    ("GetBlock", pb.GetBlockRequest(block_number=-1), "block_number"),
    ("GetBlock", pb.GetBlockRequest(block_number=-(2**63)), "block_number"),
    ("GetTransaction", pb.GetTransactionRequest(), "txid"),
    ("GetTransaction", pb.GetTransactionRequest(txid="ab" * 31), "txid"),
    ("GetTransaction", pb.GetTransactionRequest(txid="zz" * 32), "txid"),
    ("GetTransaction", pb.GetTransactionRequest(txid=TXID, finality=9), "finality"),
    ("GetTransactionInfo", pb.GetTransactionInfoRequest(txid="0x" + "ab" * 32), "txid"),
    ("GetTransactionInfo", pb.GetTransactionInfoRequest(txid="a" * 1_000_000), "txid"),
    ("BroadcastTransaction", pb.BroadcastTransactionRequest(), "raw_data"),
    ("BroadcastTransaction", broadcast(raw_data=b"\x0a"), "raw_data"),
    ("BroadcastTransaction", broadcast(raw_data=b"\xff" * 40), "raw_data"),
    ("BroadcastTransaction", broadcast(signatures=[]), "signatures"),
    ("BroadcastTransaction", broadcast(signatures=[b"\x01" * 64]), "signatures[0]"),
    ("BroadcastTransaction", broadcast(txid="nothex"), "txid"),
    ("EstimateEnergy", estimate(owner_address=""), "owner_address"),
    ("EstimateEnergy", estimate(contract_address=""), "contract_address"),
    ("EstimateEnergy", estimate(function_selector=""), "function_selector"),
    ("EstimateEnergy", estimate(function_selector="transfer (address)"), "function_selector"),
    ("EstimateEnergy", estimate(function_selector="f" * 300 + "()"), "function_selector"),
    ("EstimateEnergy", estimate(parameter=b"\x00" * 31), "parameter"),
    ("EstimateEnergy", estimate(parameter=b"\x00" * (65 * 1024)), "parameter"),
    ("EstimateEnergy", estimate(call_value_sun=-1), "call_value_sun"),
]
IDS = [f"{rpc}-{field}-{i}" for i, (rpc, _, field) in enumerate(CASES)]


@pytest.mark.parametrize(("rpc", "request_", "field"), CASES, ids=IDS)
async def test_bad_input_is_invalid_argument_naming_the_field_and_nothing_reaches_trongrid(
    tron_client, devnet, rpc, request_, field
):
    everything = devnet.faults.add()  # counts every request devnet receives

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await getattr(tron_client.stub, rpc)(request_)

    assert field in field_violations(raised.value)
    assert everything.matched == 0


async def test_every_bad_field_of_a_request_is_named_at_once(tron_client):
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await tron_client.stub.EstimateEnergy(pb.EstimateEnergyRequest(owner_address="x", call_value_sun=-5))

    assert set(field_violations(raised.value)) == {
        "owner_address", "contract_address", "function_selector", "call_value_sun"
    }


async def test_a_broadcast_with_raw_data_too_big_for_tron_is_refused_before_decoding(tron_client, devnet):
    broadcasts = requests_to(devnet, "/wallet/broadcasttransaction")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await tron_client.stub.BroadcastTransaction(broadcast(raw_data=b"\x00" * 600_000))
    assert "at most" in field_violations(raised.value)["raw_data"] and broadcasts.matched == 0


async def test_the_service_keeps_serving_after_bad_input(tron_client):
    for _ in range(3):
        with pytest.raises(grpc.aio.AioRpcError):
            await tron_client.stub.GetAccount(pb.GetAccountRequest(address="nope"))
    assert (await tron_client.stub.GetAccount(pb.GetAccountRequest(address=GOOD))).account.address == GOOD

"""Whatever a caller sends, the relay answers INVALID_ARGUMENT naming the field (BadRequest details), never
INTERNAL, and nothing reaches TronGrid."""

from __future__ import annotations

import hashlib

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration

from fixtures.rpc_errors import field_violations
from lucid.tron.v1 import relay_pb2 as pb
from lucid_tron.chain import PrivateKey, to_hex

GOOD = PrivateKey(hashlib.sha256(b"good").digest()).address
BAD_CHECKSUM = GOOD[:-1] + ("A" if GOOD[-1] != "A" else "B")
TXID = "ab" * 32


def verify(**changes) -> pb.VerifyTrc20TransferRequest:
    fields = dict(txid=TXID, contract_address=GOOD, from_address=GOOD, to_address=GOOD, amount_base_units=1)
    fields.update(changes)
    return pb.VerifyTrc20TransferRequest(**fields)


CASES = [
    ("GetNowBlock", pb.RelayServiceGetNowBlockRequest(finality=5), "finality"),
    ("GetNowBlock", pb.RelayServiceGetNowBlockRequest(max_age=Duration(seconds=-1)), "max_age"),
    ("GetNowBlock", pb.RelayServiceGetNowBlockRequest(max_age=Duration(seconds=1, nanos=-1)), "max_age"),
    ("GetNowBlock", pb.RelayServiceGetNowBlockRequest(max_age=Duration(seconds=10**15)), "max_age"),
    ("GetAccount", pb.RelayServiceGetAccountRequest(), "address"),
    ("GetAccount", pb.RelayServiceGetAccountRequest(address=BAD_CHECKSUM), "address"),
    ("GetAccount", pb.RelayServiceGetAccountRequest(address=to_hex(GOOD)), "address"),
    ("GetAccount", pb.RelayServiceGetAccountRequest(address=GOOD, finality=-3), "finality"),
    ("GetAccountResources", pb.RelayServiceGetAccountResourcesRequest(address="x" * 5000), "address"),
    ("GetTransactionInfo", pb.RelayServiceGetTransactionInfoRequest(), "txid"),
    ("GetTransactionInfo", pb.RelayServiceGetTransactionInfoRequest(txid="g" * 64), "txid"),
    ("GetTransactionInfo", pb.RelayServiceGetTransactionInfoRequest(txid=TXID, finality=4), "finality"),
    ("VerifyTrc20Transfer", verify(txid=""), "txid"),
    ("VerifyTrc20Transfer", verify(contract_address=""), "contract_address"),
    ("VerifyTrc20Transfer", verify(contract_address=BAD_CHECKSUM), "contract_address"),
    ("VerifyTrc20Transfer", verify(from_address="TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6"), "from_address"),
    ("VerifyTrc20Transfer", verify(to_address=""), "to_address"),
    ("VerifyTrc20Transfer", verify(to_address="41" + "00" * 20), "to_address"),
    ("VerifyTrc20Transfer", verify(amount_base_units=0), "amount_base_units"),
    ("VerifyTrc20Transfer", verify(amount_base_units=-1), "amount_base_units"),
    ("VerifyTrc20Transfer", verify(amount_base_units=-(2**63)), "amount_base_units"),
]


IDS = [f"{rpc}-{field}-{i}" for i, (rpc, _, field) in enumerate(CASES)]


@pytest.mark.parametrize(("rpc", "request_", "field"), CASES, ids=IDS)
async def test_bad_input_is_invalid_argument_naming_the_field_and_nothing_reaches_trongrid(
    relay, devnet, rpc, request_, field
):
    everything = devnet.faults.add()

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await getattr(relay.stub, rpc)(request_)

    assert field in field_violations(raised.value)
    assert everything.matched == 0


async def test_every_bad_field_of_a_verification_is_named_at_once(relay):
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await relay.stub.VerifyTrc20Transfer(pb.VerifyTrc20TransferRequest(from_address="nope"))

    assert set(field_violations(raised.value)) == {
        "txid", "contract_address", "from_address", "to_address", "amount_base_units"
    }

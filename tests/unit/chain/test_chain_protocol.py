"""The generated wire messages carry TRON's exact field numbers, types and enum numbers (transcribed from
tronprotocol/java-tron protocol/src/main/protos: core/Tron.proto and core/contract/*.proto), and load in the same
process as tronpy, whose own copy of Tron.proto already owns the `protocol.*` names."""

import subprocess
import sys

import pytest
from google.protobuf.descriptor import FieldDescriptor as F

from lucid_tron.chain import protocol

B, I64, I32, BOOL, ENUM, MSG = F.TYPE_BYTES, F.TYPE_INT64, F.TYPE_INT32, F.TYPE_BOOL, F.TYPE_ENUM, F.TYPE_MESSAGE

TRON_FIELDS = {
    protocol.Transaction: {"raw_data": (1, MSG), "signature": (2, B), "ret": (5, MSG)},
    protocol.Transaction.raw: {
        "ref_block_bytes": (1, B),
        "ref_block_num": (3, I64),
        "ref_block_hash": (4, B),
        "expiration": (8, I64),
        "auths": (9, MSG),
        "data": (10, B),
        "contract": (11, MSG),
        "scripts": (12, B),
        "timestamp": (14, I64),
        "fee_limit": (18, I64),
    },
    protocol.Transaction.Contract: {
        "type": (1, ENUM),
        "parameter": (2, MSG),
        "provider": (3, B),
        "ContractName": (4, B),
        "Permission_id": (5, I32),
    },
    protocol.TransferContract: {"owner_address": (1, B), "to_address": (2, B), "amount": (3, I64)},
    protocol.TriggerSmartContract: {
        "owner_address": (1, B),
        "contract_address": (2, B),
        "call_value": (3, I64),
        "data": (4, B),
        "call_token_value": (5, I64),
        "token_id": (6, I64),
    },
    protocol.FreezeBalanceV2Contract: {"owner_address": (1, B), "frozen_balance": (2, I64), "resource": (3, ENUM)},
    protocol.UnfreezeBalanceV2Contract: {"owner_address": (1, B), "unfreeze_balance": (2, I64), "resource": (3, ENUM)},
    protocol.WithdrawExpireUnfreezeContract: {"owner_address": (1, B)},
    protocol.DelegateResourceContract: {
        "owner_address": (1, B),
        "resource": (2, ENUM),
        "balance": (3, I64),
        "receiver_address": (4, B),
        "lock": (5, BOOL),
        "lock_period": (6, I64),
    },
    protocol.UnDelegateResourceContract: {
        "owner_address": (1, B),
        "resource": (2, ENUM),
        "balance": (3, I64),
        "receiver_address": (4, B),
    },
    protocol.CancelAllUnfreezeV2Contract: {"owner_address": (1, B)},
}

TRON_CONTRACT_TYPES = {
    "TransferContract": 1,
    "TriggerSmartContract": 31,
    "FreezeBalanceV2Contract": 54,
    "UnfreezeBalanceV2Contract": 55,
    "WithdrawExpireUnfreezeContract": 56,
    "DelegateResourceContract": 57,
    "UnDelegateResourceContract": 58,
    "CancelAllUnfreezeV2Contract": 59,
}


@pytest.mark.parametrize("message", list(TRON_FIELDS), ids=lambda m: m.DESCRIPTOR.full_name)
def test_fields_have_trons_numbers_and_types(message):
    fields = {f.name: (f.number, f.type) for f in message.DESCRIPTOR.fields}
    assert fields == TRON_FIELDS[message]


def test_contract_types_have_trons_numbers():
    enum = protocol.Transaction.Contract.ContractType
    assert {name: enum.Value(name) for name in TRON_CONTRACT_TYPES} == TRON_CONTRACT_TYPES


def test_resource_codes_have_trons_numbers():
    assert (protocol.BANDWIDTH, protocol.ENERGY, protocol.TRON_POWER) == (0, 1, 2)


def test_tronpys_copy_of_tron_proto_reads_our_bytes_the_same():
    # An independent transcription of Tron.proto: both must agree on every byte of a transfer.
    from tronpy.proto import tron_pb2

    ours = protocol.Transaction.raw(ref_block_bytes=b"\x01\x02", ref_block_hash=bytes(8), expiration=5, timestamp=4,
                                    fee_limit=3, data=b"memo")
    contract = ours.contract.add(type=protocol.Transaction.Contract.TriggerSmartContract, Permission_id=2)
    contract.parameter.type_url = "type.googleapis.com/protocol.TriggerSmartContract"
    contract.parameter.value = protocol.TriggerSmartContract(
        owner_address=b"\x41" + bytes(20), contract_address=b"\x41" + b"\x01" * 20, call_value=7, data=b"\xa9"
    ).SerializeToString()
    theirs = tron_pb2.Transaction.raw.FromString(ours.SerializeToString())
    assert theirs.SerializeToString() == ours.SerializeToString()
    assert (theirs.fee_limit, theirs.data, theirs.contract[0].type, theirs.contract[0].Permission_id) == (
        3, b"memo", 31, 2,
    )
    assert tron_pb2.TriggerSmartContract.FromString(theirs.contract[0].parameter.value).call_value == 7


@pytest.mark.parametrize(
    "imports",
    ["import lucid_tron.chain; import tronpy", "import tronpy; import lucid_tron.chain"],
    ids=["chain first", "tronpy first"],
)
def test_loads_in_one_process_with_tronpy_in_either_order(imports):
    # A .proto declaring TRON's `package protocol;` would collide with tronpy's in the default descriptor pool.
    subprocess.run([sys.executable, "-c", imports], check=True, timeout=60)

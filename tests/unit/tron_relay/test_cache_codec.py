"""The relay's cache format: reads values round-trip through JSON; data that does not fit is refused."""

from __future__ import annotations

import json

import pytest

from lucid_tron.services.tron_relay.codec import CodecError, from_json, to_json
from lucid_tron.trongrid import Account, BlockHeader, ChainParameters, ExecutionResult, Log, Receipt

ADDRESS = "TQyGrUpBRF7m2ScEwuyK9VadWZBfYDmG6f"
RECEIPT = Receipt(
    txid="ab" * 32,
    block_number=9,
    block_time_ms=1_700_000_000_000,
    result=ExecutionResult.REVERTED,
    result_code="REVERT",
    result_message="REVERT opcode executed",
    fee_sun=2**62,
    energy_used=1,
    energy_burned=1,
    energy_fee_sun=100,
    bandwidth_used=345,
    bandwidth_fee_sun=0,
    contract_address=ADDRESS,
    logs=(Log(index=0, contract_address=ADDRESS, topics=(b"\x01" * 32,), data=b""),),
    solidified=True,
)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (Receipt, RECEIPT),
        (Receipt | None, None),
        (Receipt | None, RECEIPT),
        (Account, Account(address=ADDRESS, activated=False, balance_sun=0, create_time_ms=None)),
        (BlockHeader, BlockHeader(5, "aa" * 32, "bb" * 32, 1, ADDRESS, 0, True)),
        (ChainParameters, ChainParameters(100, 1000, 1_100_000, 1_000_000, 15_000_000_000, 14, (("getEnergyFee", 1),))),
    ],
)
def test_a_value_round_trips_through_json(kind, value):
    assert from_json(kind, json.loads(json.dumps(to_json(value)))) == value


@pytest.mark.parametrize(
    "mangle",
    [
        lambda d: d.pop("txid"),
        lambda d: d.update(block_number="9"),
        lambda d: d.update(result="EXPLODED"),
        lambda d: d.update(solidified=1),
        lambda d: d["logs"][0].update(data="zz"),
        lambda d: d.update(logs={}),
    ],
)
def test_cached_data_that_does_not_fit_its_type_is_refused(mangle):
    data = to_json(RECEIPT)
    mangle(data)
    with pytest.raises(CodecError):
        from_json(Receipt, data)

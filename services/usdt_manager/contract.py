"""The configured USDT contract as usdt-manager uses it: its views (balanceOf, allowance) read through tron-client,
and the call data of its writes (transfer, approve), which lucid_tron.sending builds into transactions locally.
"""

from __future__ import annotations

import time

from lucid.tron.v1 import common_pb2, tron_client_pb2
from lucid_tron.chain import (
    MAX_INT64,
    build_transaction,
    decode_uint256,
    encode_address,
    encode_call,
    protocol,
    trigger_smart_contract,
)
from lucid_tron.errors import FailedPrecondition
from lucid_tron.peers import TronClientService

#: What TRON adds to a transaction's size when it charges bandwidth (java-tron's MAX_RESULT_SIZE_IN_TX).
_RESULT_SIZE_BYTES = 64
_SIGNATURE_BYTES = 65
BALANCE_OUT_OF_RANGE = "BALANCE_OUT_OF_RANGE"

TRANSFER = "transfer(address,uint256)"
APPROVE = "approve(address,uint256)"


class UsdtContract:
    """The USDT contract at `address`, through tron-client."""

    def __init__(self, tron_client: TronClientService, address: str) -> None:
        self.address = address
        self._tron_client = tron_client

    async def balance_of(self, owner: str, finality: int = common_pb2.FINALITY_SOLIDIFIED) -> int:
        return await self._view("balanceOf(address)", encode_address(owner), finality, what=f"balanceOf({owner})")

    async def allowance(self, owner: str, spender: str, finality: int = common_pb2.FINALITY_SOLIDIFIED) -> int:
        return await self._view(
            "allowance(address,address)",
            encode_address(owner) + encode_address(spender),
            finality,
            what=f"allowance({owner}, {spender})",
        )

    async def _view(self, function: str, parameter: bytes, finality: int, *, what: str) -> int:
        answer = await self._tron_client.rpc.TriggerConstantContract(
            tron_client_pb2.TriggerConstantContractRequest(
                contract_address=self.address, function_selector=function, parameter=parameter, finality=finality
            )
        )
        value = decode_uint256(answer.result[:32])
        if value > MAX_INT64:
            # Not USDT's (its whole supply fits many times over): a contract that answers this is not the token.
            raise FailedPrecondition(
                f"the USDT contract answered {what} = {value}, beyond int64", reason=BALANCE_OUT_OF_RANGE,
                subject=self.address,
            )
        return value

    def transfer_call(self, to: str, amount: int) -> bytes:
        return encode_call(TRANSFER, to, amount)

    def approve_call(self, spender: str, amount: int) -> bytes:
        return encode_call(APPROVE, spender, amount)


def bandwidth_of(raw_data: bytes) -> int:
    """Bandwidth points a transaction with this raw_data and one signature consumes."""
    signed = protocol.Transaction(raw_data=protocol.Transaction.raw.FromString(raw_data), signature=[bytes(_SIGNATURE_BYTES)])
    return signed.ByteSize() + _RESULT_SIZE_BYTES


def sample_transfer_bandwidth(owner: str, contract: str, to: str, amount: int, fee_limit_sun: int) -> int:
    """Bandwidth of a transfer before any block is known (the reference block fields have fixed sizes)."""
    now_ms = int(time.time() * 1000)
    tx = build_transaction(
        trigger_smart_contract(owner, contract, encode_call(TRANSFER, to, amount)),
        ref_block_number=0,
        ref_block_id=bytes(32),
        expiration_ms=now_ms + 60_000,
        timestamp_ms=now_ms,
        fee_limit_sun=fee_limit_sun,
    )
    return bandwidth_of(tx.raw_data.SerializeToString(deterministic=True))

"""The configured USDT contract as usdt-manager uses it: its views (balanceOf, allowance) read through tron-client,
and its writes (transfer, approve) built locally into raw_data, with nothing taken from a node but the reference
block.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from lucid.tron.v1 import common_pb2, tron_client_pb2
from lucid_tron.chain import (
    MAX_INT64,
    build_transaction,
    decode_uint256,
    encode_address,
    encode_call,
    protocol,
    trigger_smart_contract,
    txid,
)
from lucid_tron.errors import FailedPrecondition
from lucid_tron.peers import TronClientService

#: What TRON adds to a transaction's size when it charges bandwidth (java-tron's MAX_RESULT_SIZE_IN_TX).
_RESULT_SIZE_BYTES = 64
_SIGNATURE_BYTES = 65
BALANCE_OUT_OF_RANGE = "BALANCE_OUT_OF_RANGE"

TRANSFER = "transfer(address,uint256)"
APPROVE = "approve(address,uint256)"


@dataclass(frozen=True)
class BuiltTransaction:
    """raw_data built here, its txid (sha256, computed here) and what it will cost in bandwidth once signed."""

    raw_data: bytes
    txid: str
    expiration_ms: int
    fee_limit_sun: int
    bandwidth: int


class UsdtContract:
    """The USDT contract at `address`, through tron-client."""

    def __init__(self, tron_client: TronClientService, address: str, *, lifetime_s: float) -> None:
        self.address = address
        self._tron_client = tron_client
        self._lifetime_ms = int(lifetime_s * 1000)
        self._last_timestamp_ms = 0

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

    async def build(self, owner: str, call_data: bytes, fee_limit_sun: int) -> BuiltTransaction:
        """raw_data of a call of this contract by `owner`, referencing the newest solidified block (a reference
        block that cannot be reorganised away) and expiring after the configured lifetime."""
        block = (
            await self._tron_client.rpc.GetNowBlock(
                tron_client_pb2.GetNowBlockRequest(finality=common_pb2.FINALITY_SOLIDIFIED)
            )
        ).block
        # Two transfers of the same amount between the same addresses, built in the same millisecond on the same
        # reference block, would be one transaction (one txid): only one could land. A timestamp that never
        # repeats in this process keeps them apart (another replica's twin is caught when it is stored).
        now_ms = self._last_timestamp_ms = max(int(time.time() * 1000), self._last_timestamp_ms + 1)
        expiration_ms = now_ms + self._lifetime_ms
        tx = build_transaction(
            trigger_smart_contract(owner, self.address, call_data),
            ref_block_number=block.number,
            ref_block_id=block.block_id,
            expiration_ms=expiration_ms,
            timestamp_ms=now_ms,
            fee_limit_sun=fee_limit_sun,
        )
        raw_data = tx.raw_data.SerializeToString(deterministic=True)
        return BuiltTransaction(raw_data, txid(raw_data).hex(), expiration_ms, fee_limit_sun, bandwidth_of(raw_data))


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

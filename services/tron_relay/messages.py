"""Relay answers as lucid.tron.v1 messages, and the proto enums as domain values."""

from __future__ import annotations

from typing import Any

from google.protobuf.duration_pb2 import Duration

from lucid.tron.v1 import common_pb2, relay_pb2
from lucid_tron.chain import MAX_INT64
from lucid_tron.trongrid import HistoryTransfer, timestamp_message

from .cache import CacheStatus
from .transfers import BlockTransfer
from .verify import Failure, Transfer


def set_cache_status(target: relay_pb2.CacheStatus, status: CacheStatus) -> None:
    """Write `status` into a response's CacheStatus field in place (no message built apart and copied in)."""
    target.from_cache = status.from_cache
    target.stale = status.stale
    # An age is never negative, so this is Duration's normal form (what FromNanoseconds gives, without its checks).
    age: Duration = target.age
    age.seconds, age.nanos = divmod(round(status.age_s * 1e9), 1_000_000_000)


def _moved(value: Transfer | BlockTransfer) -> dict[str, Any]:
    """The fields Trc20Transfer and BlockTransfer share, named alike in both."""
    return {
        "txid": value.txid,
        "log_index": value.log_index,
        "contract_address": value.contract_address,
        "from_address": value.from_address,
        "to_address": value.to_address,
        "amount_base_units": value.amount_base_units,
        "block_number": value.block_number,
        "block_time": timestamp_message(value.block_time_ms),
        "solidified": value.solidified,
    }


def transfer(value: Transfer) -> common_pb2.Trc20Transfer:
    return common_pb2.Trc20Transfer(**_moved(value))


def block_transfer(value: BlockTransfer) -> relay_pb2.BlockTransfer:
    result = common_pb2.ExecutionResult.Value(f"EXECUTION_RESULT_{value.result.value}")
    return relay_pb2.BlockTransfer(**_moved(value), result=result, block_id=value.block_id)


def address_transfer(value: HistoryTransfer) -> relay_pb2.AddressTransfer:
    return relay_pb2.AddressTransfer(
        txid=value.txid,
        contract_address=value.contract_address,
        from_address=value.from_address,
        to_address=value.to_address,
        amount_base_units=value.amount,
        block_time=timestamp_message(value.block_time_ms),
    )


def fits_int64(value: Transfer | BlockTransfer) -> bool:
    """A Transfer event's amount is a uint256; the contract's int64 cannot show more (only a hostile token emits it)."""
    return value.amount_base_units <= MAX_INT64


def failure(value: Failure | None) -> int:
    return relay_pb2.VERIFICATION_FAILURE_UNSPECIFIED if value is None else relay_pb2.VerificationFailure.Value(
        f"VERIFICATION_FAILURE_{value.value}"
    )

"""The values the TronGrid reads return: plain frozen dataclasses, no protobuf.

Amounts are int (SUN), times are Unix milliseconds, addresses are base58 ("T..."), ids are lowercase hex. tron-client
and tron-relay map these to their protos, and the relay caches them as they are.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "Account",
    "AccountResources",
    "Block",
    "BlockHeader",
    "BlockReceipts",
    "BroadcastResult",
    "HistoryTransfer",
    "HistoryPage",
    "ChainParameters",
    "ExecutionResult",
    "Finality",
    "Log",
    "NativeTransfer",
    "DelegationRecord",
    "Receipt",
    "Stake",
    "Transaction",
    "Unfreeze",
]


class Finality(enum.Enum):
    """Which view a read uses: the node's newest state (/wallet/*) or the solidified one (/walletsolidity/*)."""

    HEAD = "head"
    SOLIDIFIED = "solidified"


class ExecutionResult(enum.Enum):
    """How an included transaction's execution ended (named like lucid.tron.v1.ExecutionResult)."""

    UNSPECIFIED = "UNSPECIFIED"
    SUCCESS = "SUCCESS"
    REVERTED = "REVERTED"
    OUT_OF_ENERGY = "OUT_OF_ENERGY"
    FAILED = "FAILED"


@dataclass(frozen=True)
class BlockHeader:
    number: int
    block_id: str
    parent_block_id: str
    block_time_ms: int
    producer_address: str
    transaction_count: int
    #: Read from the solidified view (or found there): final.
    solidified: bool


@dataclass(frozen=True)
class Block:
    header: BlockHeader
    #: Transaction ids in block order.
    txids: tuple[str, ...]


@dataclass(frozen=True)
class Account:
    address: str
    #: False for an address that never received TRX: TronGrid answers {} for it.
    activated: bool
    balance_sun: int
    #: None when not activated.
    create_time_ms: int | None


@dataclass(frozen=True)
class AccountResources:
    """Named like lucid.tron.v1.AccountResources, field for field."""

    address: str
    free_bandwidth_limit: int
    free_bandwidth_used: int
    bandwidth_limit: int
    bandwidth_used: int
    energy_limit: int
    energy_used: int
    staked_for_bandwidth_sun: int
    staked_for_energy_sun: int
    delegated_bandwidth_out_sun: int
    delegated_energy_out_sun: int
    delegated_bandwidth_in_sun: int
    delegated_energy_in_sun: int
    total_energy_limit: int
    total_energy_weight: int
    total_bandwidth_limit: int
    total_bandwidth_weight: int


@dataclass(frozen=True)
class Unfreeze:
    """One Stake 2.0 unstake not yet withdrawn: `resource` "BANDWIDTH" or "ENERGY"."""

    resource: str
    amount_sun: int
    withdrawable_ms: int


@dataclass(frozen=True)
class DelegationRecord:
    """Stake `owner` delegated to `receiver` for `resource`; lock_expire_ms 0 when not locked."""

    receiver: str
    resource: str
    amount_sun: int
    lock_expire_ms: int


@dataclass(frozen=True)
class Stake:
    """An account's Stake 2.0 state besides its resources, as of the head block."""

    unfreezes: tuple[Unfreeze, ...]
    delegations: tuple[DelegationRecord, ...]
    delegatable_bandwidth_sun: int
    delegatable_energy_sun: int
    withdrawable_sun: int


@dataclass(frozen=True)
class Transaction:
    #: sha256(raw_data), recomputed here (a txID the node sends that disagrees is a bad response).
    txid: str
    raw_data: bytes
    signatures: tuple[bytes, ...]
    #: TRON's contract type name, e.g. "TransferContract"; the number as text for a type unknown here.
    contract_type: str
    #: "" when the owner cannot be read (no contract).
    owner_address: str
    expiration_ms: int
    #: The ret[0].contractRet code, e.g. "SUCCESS", "REVERT"; "" when not executed.
    contract_result: str


@dataclass(frozen=True)
class Log:
    index: int
    contract_address: str
    topics: tuple[bytes, ...]
    data: bytes


@dataclass(frozen=True)
class Receipt:
    """A transaction's TransactionInfo, named like lucid.tron.v1.TransactionReceipt."""

    txid: str
    block_number: int
    block_time_ms: int
    result: ExecutionResult
    result_code: str
    result_message: str
    fee_sun: int
    energy_used: int
    energy_burned: int
    energy_fee_sun: int
    bandwidth_used: int
    bandwidth_fee_sun: int
    contract_address: str
    logs: tuple[Log, ...]
    solidified: bool


@dataclass(frozen=True)
class NativeTransfer:
    """A top-level TRX transfer (TransferContract) of a block."""

    txid: str
    from_address: str
    to_address: str
    amount_sun: int
    #: The ret[0].contractRet code, e.g. "SUCCESS"; "" when TRON did not say.
    contract_result: str


@dataclass(frozen=True)
class BlockReceipts:
    """One block as a payment watcher reads it: its header, its TRX transfers and every receipt (with logs)."""

    block: Block
    native_transfers: tuple[NativeTransfer, ...]
    #: One per transaction that has a receipt, in block order (gettransactioninfobyblocknum).
    receipts: tuple[Receipt, ...]


@dataclass(frozen=True)
class HistoryTransfer:
    """A TRC20 Transfer of an account's history (/v1/accounts/{address}/transactions/trc20). TronGrid gives
    neither the block number nor the log index: read the receipt for those. The amount is a uint256."""

    txid: str
    contract_address: str
    from_address: str
    to_address: str
    amount: int
    block_time_ms: int


@dataclass(frozen=True)
class HistoryPage:
    transfers: tuple[HistoryTransfer, ...]
    #: TronGrid's fingerprint of the next page; "" on the last page.
    fingerprint: str


@dataclass(frozen=True)
class ChainParameters:
    energy_price_sun: int
    bandwidth_price_sun: int
    create_account_fee_sun: int
    memo_fee_sun: int
    max_fee_limit_sun: int
    unfreeze_delay_days: int
    #: Every parameter as TRON reports it, in its order.
    parameters: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class BroadcastResult:
    txid: str
    #: The node already had it (DUP_TRANSACTION_ERROR): accepted earlier, by this or another broadcast.
    duplicate: bool


@dataclass(frozen=True)
class ConstantCall:
    """What a constant call (triggerconstantcontract) returned: ABI-encoded output, energy it used, and whether it
    reverted (then `output` is the revert data)."""

    output: bytes
    energy_used: int
    reverted: bool

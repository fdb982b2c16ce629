"""An async TronGrid HTTP client that reaches the network only through tor_proxy, with retries, a circuit breaker,
and typed reads.

    async with TorProxy(settings.tor_config) as tor:
        trongrid = TronGridClient("https://api.trongrid.io", tor, api_key=key)
        header = await now_block(trongrid, Finality.SOLIDIFIED)              # /walletsolidity/getnowblock
        account = await trongrid.wallet("getaccount", {"address": addr, "visible": True})   # raw JSON
        sent = await broadcast(trongrid, signed)                             # BroadcastResult(txid, duplicate)

    TronGridClient      get / post / wallet / solidity; returns parsed JSON; bounded by the caller's
                        RPC deadline (lucid_tron.context.deadlines) or `deadline_s`
    RetryPolicy         attempts and backoff (full jitter), the longest Retry-After worth waiting for
    CircuitBreaker      closed -> open -> half-open, shared by all calls of a client (`client.breaker`)
    BreakerPolicy       when it opens and for how long;  BreakerState: its states
    BROADCAST_PATHS     the paths not retried unless the caller says so
    SessionProvider     what the client needs from a proxy: `session(purpose)`
    exceptions          TronGridError > TronGridUnavailable (> Throttled, NodeBusy, BadResponse), TronGridNodeError

Reads (TronGrid's JSON parsed once into plain frozen dataclasses; "not found" is None, an unusable answer
TronGridBadResponse): now_block, block, block_receipts, block_bodies (+ needs_receipts, block_with_receipts: a range
of blocks read in one request, a block's receipts only when it can hold logs), token_transfers, account, account_resources, transaction,
transaction_info, stake,
chain_parameters, estimate_energy, constant_call, and `both` (two calls at once). The one write: broadcast (DUP_TRANSACTION_ERROR
is success with duplicate=True). Values: Finality, Block, BlockHeader, BlockReceipts, NativeTransfer, HistoryTransfer,
HistoryPage, Account, AccountResources, Transaction,
Receipt, Log, ExecutionResult, Stake, Unfreeze, DelegationRecord, ChainParameters, ConstantCall,
BroadcastResult.

The reads, broadcast and the names below load their modules (protobuf, the chain library) on first use, so a user
of the client alone does not pay for them: the lucid.tron.v1 mappings (FINALITIES,
block_header_message, account_message, account_resources_message, stake_message, receipt_message, timestamp_message) and
TronGridSettings (TronGrid's and Tor's variables; it extends the mesh's ServiceSettings, so it loads grpc).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lucid_tron.lazy import lazy_exports

from ._breaker import BreakerPolicy, BreakerState, CircuitBreaker
from ._client import BROADCAST_PATHS, RetryPolicy, SessionProvider, TronGridClient, TronGridStats
from ._exceptions import (
    TronGridBadResponse,
    TronGridError,
    TronGridNodeBusy,
    TronGridNodeError,
    TronGridThrottled,
    TronGridTorUnavailable,
    TronGridUnavailable,
)
from ._values import (
    Account,
    AccountResources,
    Block,
    BlockHeader,
    BlockReceipts,
    BroadcastResult,
    ChainParameters,
    ConstantCall,
    ExecutionResult,
    Finality,
    Log,
    NativeTransfer,
    Receipt,
    HistoryTransfer,
    HistoryPage,
    Transaction,
)

if TYPE_CHECKING:
    from ._broadcast import DUP_TRANSACTION, broadcast
    from ._messages import (
        FINALITIES,
        account_message,
        account_resources_message,
        block_header_message,
        receipt_message,
        stake_message,
        timestamp_message,
    )
    from ._reads import (
        account,
        account_resources,
        block,
        block_bodies,
        block_receipts,
        block_with_receipts,
        both,
        chain_parameters,
        constant_call,
        estimate_energy,
        needs_receipts,
        now_block,
        token_transfers,
        transaction,
        stake,
        transaction_info,
    )
    from ._settings import TronGridSettings

_LAZY = {
    "DUP_TRANSACTION": "._broadcast",
    "FINALITIES": "._messages",
    "TronGridSettings": "._settings",
    "account": "._reads",
    "account_message": "._messages",
    "account_resources": "._reads",
    "account_resources_message": "._messages",
    "block": "._reads",
    "block_bodies": "._reads",
    "block_receipts": "._reads",
    "block_with_receipts": "._reads",
    "needs_receipts": "._reads",
    "block_header_message": "._messages",
    "both": "._reads",
    "broadcast": "._broadcast",
    "chain_parameters": "._reads",
    "constant_call": "._reads",
    "estimate_energy": "._reads",
    "now_block": "._reads",
    "receipt_message": "._messages",
    "timestamp_message": "._messages",
    "token_transfers": "._reads",
    "transaction": "._reads",
    "transaction_info": "._reads",
    "stake": "._reads",
    "stake_message": "._messages",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

__all__ = [
    "BROADCAST_PATHS",
    "DUP_TRANSACTION",
    "FINALITIES",
    "Account",
    "AccountResources",
    "Block",
    "BlockHeader",
    "BlockReceipts",
    "BreakerPolicy",
    "BreakerState",
    "BroadcastResult",
    "ChainParameters",
    "CircuitBreaker",
    "ConstantCall",
    "ExecutionResult",
    "Finality",
    "Log",
    "NativeTransfer",
    "Receipt",
    "DelegationRecord",
    "Stake",
    "Unfreeze",
    "RetryPolicy",
    "SessionProvider",
    "HistoryTransfer",
    "HistoryPage",
    "Transaction",
    "TronGridBadResponse",
    "TronGridClient",
    "TronGridStats",
    "TronGridError",
    "TronGridNodeBusy",
    "TronGridNodeError",
    "TronGridSettings",
    "TronGridThrottled",
    "TronGridTorUnavailable",
    "TronGridUnavailable",
    "account",
    "account_message",
    "account_resources",
    "account_resources_message",
    "block",
    "block_header_message",
    "block_bodies",
    "block_receipts",
    "block_with_receipts",
    "both",
    "broadcast",
    "chain_parameters",
    "constant_call",
    "estimate_energy",
    "needs_receipts",
    "now_block",
    "receipt_message",
    "timestamp_message",
    "token_transfers",
    "transaction",
    "transaction_info",
    "stake",
    "stake_message",
]

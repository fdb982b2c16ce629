"""The transfers of a block that a payment watcher credits, drawn from what TronGrid says of the block.

TRX: top-level TransferContract transactions. Tokens: TRC20 Transfer events in the receipts' logs, kept only when
emitted by a contract the caller names, so a token moved from inside another contract counts (its event is in the
logs) and a look-alike token (another emitter) does not. Execution results are reported, not filtered: a watcher
shows a failed payment differently from none.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from lucid_tron.trongrid import BlockReceipts, ExecutionResult

from .verify import transfers_of

__all__ = ["TRX_LOG_INDEX", "BlockTransfer", "transfers_in"]

#: The log_index of a TRX transfer, which is no log: (txid, log_index) stays a unique key.
TRX_LOG_INDEX = -1

_NATIVE_RESULTS = {"": ExecutionResult.SUCCESS, "SUCCESS": ExecutionResult.SUCCESS}


@dataclass(frozen=True)
class BlockTransfer:
    """One transfer of TRX (contract_address "") or of a token. The amount of a token is a uint256."""

    txid: str
    log_index: int
    contract_address: str
    from_address: str
    to_address: str
    amount_base_units: int
    block_number: int
    block_time_ms: int
    result: ExecutionResult
    solidified: bool
    block_id: str


def transfers_in(block: BlockReceipts, contracts: Collection[str], include_trx: bool) -> list[BlockTransfer]:
    """The block's TRX transfers (when `include_trx`) and the Transfer events emitted by `contracts`, in
    transaction order, then log order."""
    header = block.block.header
    results = {receipt.txid: receipt.result for receipt in block.receipts}
    found: list[tuple[int, BlockTransfer]] = []
    position = {txid: index for index, txid in enumerate(block.block.txids)}
    if include_trx:
        for native in block.native_transfers:
            # A native transfer included in a block executed; TRON flags the rare failure in its ret code.
            result = results.get(native.txid) or _NATIVE_RESULTS.get(native.contract_result, ExecutionResult.FAILED)
            found.append((position.get(native.txid, len(position)), BlockTransfer(
                txid=native.txid, log_index=TRX_LOG_INDEX, contract_address="",
                from_address=native.from_address, to_address=native.to_address, amount_base_units=native.amount_sun,
                block_number=header.number, block_time_ms=header.block_time_ms, result=result,
                solidified=header.solidified, block_id=header.block_id,
            )))  # fmt: skip
    for receipt in block.receipts:
        for event in transfers_of(receipt):
            if event.contract_address in contracts:
                found.append((position.get(receipt.txid, len(position)), BlockTransfer(
                    txid=event.txid, log_index=event.log_index, contract_address=event.contract_address,
                    from_address=event.from_address, to_address=event.to_address,
                    amount_base_units=event.amount_base_units, block_number=header.number,
                    block_time_ms=header.block_time_ms, result=receipt.result, solidified=header.solidified,
                    block_id=header.block_id,
                )))  # fmt: skip
    found.sort(key=lambda item: (item[0], item[1].log_index))
    return [transfer for _, transfer in found]

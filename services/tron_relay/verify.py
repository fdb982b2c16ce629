"""Did a transaction move exactly the expected TRC20 tokens? The rules, over receipts already read.

Checks run in this order and the first that fails is the answer (lucid.tron.v1.VerificationFailure):

    NOT_FOUND        no receipt in either view
    NOT_SOLIDIFIED   a receipt at head only: included, not final; never credit it
    FAILED           the solidified receipt's result is not SUCCESS
    NO_TRANSFER_LOG  no TRC20 Transfer event at all
    WRONG_CONTRACT   none emitted by the expected token contract (a look-alike token emits the same event)
    WRONG_FROM       none of those from the expected sender (when one is expected)
    WRONG_TO         none of those to the expected recipient
    WRONG_AMOUNT     none of those for exactly the expected amount

A Transfer event is a log whose topic 0 is keccak256("Transfer(address,address,uint256)") with three topics and
one data word (`lucid_tron.chain.decode_transfer_log`); anything else (ERC-721's four-topic Transfer, a malformed
word) is not a TRC20 transfer and is ignored. The verdict of a solidified receipt is final.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from lucid_tron.chain import AbiError, ChainError, decode_transfer_log
from lucid_tron.trongrid import ExecutionResult, Receipt

__all__ = ["Expected", "Failure", "Transfer", "Verdict", "transfers_of", "verify"]


class Failure(enum.Enum):
    NOT_FOUND = "NOT_FOUND"
    NOT_SOLIDIFIED = "NOT_SOLIDIFIED"
    FAILED = "FAILED"
    NO_TRANSFER_LOG = "NO_TRANSFER_LOG"
    WRONG_CONTRACT = "WRONG_CONTRACT"
    WRONG_FROM = "WRONG_FROM"
    WRONG_TO = "WRONG_TO"
    WRONG_AMOUNT = "WRONG_AMOUNT"


@dataclass(frozen=True)
class Expected:
    """What the caller expects; addresses base58, `from_address` None for any sender."""

    contract_address: str
    from_address: str | None
    to_address: str
    amount_base_units: int


@dataclass(frozen=True)
class Transfer:
    """One decoded Transfer event. `amount_base_units` is a uint256: it may exceed int64 for a hostile token."""

    txid: str
    log_index: int
    contract_address: str
    from_address: str
    to_address: str
    amount_base_units: int
    block_number: int
    block_time_ms: int
    solidified: bool


@dataclass(frozen=True)
class Verdict:
    #: None when verified.
    failure: Failure | None
    matched: Transfer | None
    transfers: tuple[Transfer, ...]
    block_number: int

    @property
    def verified(self) -> bool:
        return self.failure is None


def transfers_of(receipt: Receipt) -> tuple[Transfer, ...]:
    """Every TRC20 Transfer event of the receipt, in log order."""
    found = []
    for log in receipt.logs:
        try:
            sender, recipient, amount = decode_transfer_log(list(log.topics), log.data)
        except (AbiError, ChainError):
            continue
        found.append(
            Transfer(
                txid=receipt.txid,
                log_index=log.index,
                contract_address=log.contract_address,
                from_address=sender,
                to_address=recipient,
                amount_base_units=amount,
                block_number=receipt.block_number,
                block_time_ms=receipt.block_time_ms,
                solidified=receipt.solidified,
            )
        )
    return tuple(found)


def verify(expected: Expected, solidified: Receipt | None, head: Receipt | None) -> Verdict:
    """The verdict for `expected` given the solidified receipt and, when there is none, the head one."""
    if solidified is None:
        if head is None:
            return Verdict(Failure.NOT_FOUND, None, (), 0)
        return Verdict(Failure.NOT_SOLIDIFIED, None, transfers_of(head), head.block_number)
    transfers = transfers_of(solidified)

    def verdict(failure: Failure | None, matched: Transfer | None = None) -> Verdict:
        return Verdict(failure, matched, transfers, solidified.block_number)

    if solidified.result is not ExecutionResult.SUCCESS:
        return verdict(Failure.FAILED)
    candidates = transfers
    if not candidates:
        return verdict(Failure.NO_TRANSFER_LOG)
    for failure, keep in (
        (Failure.WRONG_CONTRACT, lambda t: t.contract_address == expected.contract_address),
        (Failure.WRONG_FROM, lambda t: expected.from_address is None or t.from_address == expected.from_address),
        (Failure.WRONG_TO, lambda t: t.to_address == expected.to_address),
        (Failure.WRONG_AMOUNT, lambda t: t.amount_base_units == expected.amount_base_units),
    ):
        candidates = tuple(t for t in candidates if keep(t))
        if not candidates:
            return verdict(failure)
    return verdict(None, candidates[0])

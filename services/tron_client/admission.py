"""What java-tron refuses that can be known from the transaction alone, refused here before anything is sent.

A node refuses these anyway, but a transaction refused locally never leaves this machine: no request through Tor, no
quota spent, nothing that tells the network this node exists or what it tried. Each refusal is FailedPrecondition
with its own reason (ErrorInfo), so a caller can tell "rebuild with a fresh expiration" from "this intent is wrong":

    TRANSACTION_EXPIRED             expiration <= now (java-tron: TRANSACTION_EXPIRATION_ERROR)
    EXPIRATION_TOO_FAR              expiration > now + 24 h (java-tron's MAXIMUM_TIME_UNTIL_EXPIRATION)
    EXPIRATION_NOT_AFTER_TIMESTAMP  expiration <= raw_data.timestamp: the builder's clock or arithmetic is wrong
    DUPLICATE_SIGNER                two signatures recover to one address (java-tron: "has signed twice", SIGERROR);
                                    v and v+27, or a signature and its high-s twin, are different bytes, one signer
    AMOUNT_NOT_POSITIVE             TRX transfer, unstake or undelegate of <= 0 SUN
    AMOUNT_BELOW_MINIMUM            stake (FreezeBalanceV2) or delegation of less than 1 TRX
    CALL_VALUE_NEGATIVE             a contract call sending < 0 SUN
    TRANSFER_TO_SELF                a TRX transfer whose receiver is its owner
    DELEGATION_TO_SELF              a (un)delegation whose receiver is its owner

Java-tron compares the expiration with its head block's time; the local clock stands in for it (they differ by
less than a block on a synchronised machine). The amount rules are the stateless ones of java-tron's actuators
(TransferActuator, VMActuator, FreezeBalanceV2Actuator, UnfreezeBalanceV2Actuator, DelegateResourceActuator,
UnDelegateResourceActuator); what depends on the chain's state (balances, staked amounts) is left to the node.
A TRC20 transfer of 0 tokens is not refused: java-tron does not refuse it and USDT executes it.
"""

from __future__ import annotations

from collections.abc import Sequence

from lucid_tron.chain import SUN_PER_TRX, DecodedContract, DecodedTransaction
from lucid_tron.errors import FailedPrecondition

__all__ = ["MAX_EXPIRATION_AHEAD_MS", "refuse_what_tron_refuses"]

#: java-tron's Constant.MAXIMUM_TIME_UNTIL_EXPIRATION: one day.
MAX_EXPIRATION_AHEAD_MS = 24 * 3600 * 1000
#: FreezeBalanceV2Actuator and DelegateResourceActuator refuse less than 1 TRX.
MIN_STAKE_SUN = SUN_PER_TRX


def refuse_what_tron_refuses(decoded: DecodedTransaction, signers: Sequence[str], now_ms: int) -> None:
    """Raise FailedPrecondition (reason: see the module doc) if java-tron would refuse `decoded` signed by
    `signers` (the addresses recovered from its signatures, in order) at Unix time `now_ms`."""
    _check_expiration(decoded, now_ms)
    _check_signers(decoded, signers)
    _check_contract(decoded)


def _refuse(decoded: DecodedTransaction, reason: str, message: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"transaction {decoded.txid_hex} was not sent: {message}", reason=reason, subject=decoded.txid_hex
    )


def _check_expiration(decoded: DecodedTransaction, now_ms: int) -> None:
    expiration_ms = decoded.expiration_ms
    if expiration_ms <= now_ms:
        raise _refuse(
            decoded,
            "TRANSACTION_EXPIRED",
            f"it expired at {expiration_ms} ms, {now_ms - expiration_ms} ms ago; build and sign it again",
        )
    if expiration_ms > now_ms + MAX_EXPIRATION_AHEAD_MS:
        raise _refuse(
            decoded,
            "EXPIRATION_TOO_FAR",
            f"its expiration {expiration_ms} ms is {expiration_ms - now_ms} ms ahead; TRON allows at most "
            f"{MAX_EXPIRATION_AHEAD_MS} ms (24 h)",
        )
    if expiration_ms <= decoded.timestamp_ms:
        raise _refuse(
            decoded,
            "EXPIRATION_NOT_AFTER_TIMESTAMP",
            f"its expiration {expiration_ms} ms is not after its timestamp {decoded.timestamp_ms} ms",
        )


def _check_signers(decoded: DecodedTransaction, signers: Sequence[str]) -> None:
    seen: set[str] = set()
    for index, signer in enumerate(signers):
        if signer in seen:
            raise _refuse(
                decoded,
                "DUPLICATE_SIGNER",
                f"signatures[{index}] is by {signer} again (TRON refuses a signer signing twice, even with other "
                "signature bytes)",
            )
        seen.add(signer)


def _check_contract(decoded: DecodedTransaction) -> None:
    contract = decoded.contract
    kind = contract.contract_type
    if kind == "TransferContract":
        _check_receiver(decoded, contract, "TRANSFER_TO_SELF", "cannot transfer TRX to its own owner")
        _check_positive(decoded, contract.amount_sun, "amount")
    elif kind == "TriggerSmartContract":
        if contract.call_value_sun is not None and contract.call_value_sun < 0:
            raise _refuse(
                decoded, "CALL_VALUE_NEGATIVE", f"call_value is {contract.call_value_sun} SUN; it must be >= 0"
            )
    elif kind == "FreezeBalanceV2Contract":
        _check_positive(decoded, contract.amount_sun, "frozen_balance")
        _check_minimum(decoded, contract.amount_sun, "frozen_balance")
    elif kind == "UnfreezeBalanceV2Contract":
        _check_positive(decoded, contract.amount_sun, "unfreeze_balance")
    elif kind == "DelegateResourceContract":
        _check_receiver(decoded, contract, "DELEGATION_TO_SELF", "cannot delegate resources to its own owner")
        _check_positive(decoded, contract.amount_sun, "balance")
        _check_minimum(decoded, contract.amount_sun, "balance")
    elif kind == "UnDelegateResourceContract":
        _check_receiver(decoded, contract, "DELEGATION_TO_SELF", "cannot undelegate resources from its own owner")
        _check_positive(decoded, contract.amount_sun, "balance")


def _check_receiver(decoded: DecodedTransaction, contract: DecodedContract, reason: str, what: str) -> None:
    if contract.to_address == contract.owner_address:
        raise _refuse(decoded, reason, f"{contract.contract_type} {what} ({contract.owner_address})")


def _check_positive(decoded: DecodedTransaction, amount_sun: int | None, field: str) -> None:
    if amount_sun is None or amount_sun <= 0:
        raise _refuse(
            decoded, "AMOUNT_NOT_POSITIVE", f"{decoded.contract_type}.{field} is {amount_sun} SUN; it must be > 0"
        )


def _check_minimum(decoded: DecodedTransaction, amount_sun: int | None, field: str) -> None:
    if amount_sun is not None and amount_sun < MIN_STAKE_SUN:
        raise _refuse(
            decoded,
            "AMOUNT_BELOW_MINIMUM",
            f"{decoded.contract_type}.{field} is {amount_sun} SUN; TRON requires at least {MIN_STAKE_SUN} (1 TRX)",
        )

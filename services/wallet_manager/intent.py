"""What a transaction does, read from its decoded raw_data, compared field by field with what the caller says it
means. A signature is given only when every field agrees: a caller (or whoever built the transaction for it) cannot
slip a different recipient, amount, token or fee limit past the wallet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from lucid_tron.chain import (
    AbiError,
    DecodedTransaction,
    TRANSFER_SELECTOR,
    decode_address_word,
    decode_transfer_call,
    decode_uint256,
    selector,
)
from lucid_tron.errors import PreconditionViolation

INTENT_MISMATCH = "INTENT_MISMATCH"

_APPROVE_SELECTOR = selector("approve(address,uint256)")
_KIND_OF_CONTRACT = {
    "TransferContract": "TRX_TRANSFER",
    "FreezeBalanceV2Contract": "FREEZE_BALANCE_V2",
    "UnfreezeBalanceV2Contract": "UNFREEZE_BALANCE_V2",
    "DelegateResourceContract": "DELEGATE_RESOURCE",
    "UnDelegateResourceContract": "UNDELEGATE_RESOURCE",
    "WithdrawExpireUnfreezeContract": "WITHDRAW_EXPIRE_UNFREEZE",
    "CancelAllUnfreezeV2Contract": "CANCEL_ALL_UNFREEZE_V2",
}
_ONE_ARGUMENT_CALL = 4 + 2 * 32


@dataclass(frozen=True)
class Intent:
    """A transaction in the words of lucid.tron.v1.TransactionIntent; None and 0 where the kind has nothing."""

    kind: str | None
    owner_address: str
    recipient_address: str | None
    asset: str | None
    amount_base_units: int
    resource: str | None
    lock: bool
    lock_period_blocks: int
    fee_limit_sun: int


@dataclass(frozen=True)
class Observed:
    """What raw_data does, and what it does that no intent can say (e.g. TRX sent along with a token call)."""

    intent: Intent
    contract_address: str | None
    unexpressible: tuple[PreconditionViolation, ...]


def observe(decoded: DecodedTransaction, tokens: Mapping[str, str]) -> Observed:
    """Read a decoded transaction as an intent; `tokens` maps a TRC20 contract address to its asset."""
    contract = decoded.contract
    extra: list[PreconditionViolation] = []
    if contract.permission_id != 0:
        extra.append(
            PreconditionViolation(
                "raw_data.contract.Permission_id",
                f"signs for permission {contract.permission_id}; the wallet signs only as the owner (0)",
            )
        )
    recipient, amount, asset = contract.to_address, contract.amount_sun or 0, "TRX"
    kind = _KIND_OF_CONTRACT.get(contract.contract_type)
    if contract.contract_type == "TriggerSmartContract":
        asset = tokens.get(contract.contract_address or "")
        kind, recipient, amount = _token_call(contract.call_data or b"")
        if contract.call_value_sun:
            extra.append(
                PreconditionViolation(
                    "raw_data.contract.call_value", f"sends {contract.call_value_sun} SUN along with the contract call"
                )
            )
    intent = Intent(
        kind=kind,
        owner_address=contract.owner_address,
        recipient_address=recipient,
        asset=asset,
        amount_base_units=amount,
        resource=contract.resource,
        lock=bool(contract.lock),
        lock_period_blocks=contract.lock_period or 0,
        fee_limit_sun=decoded.fee_limit_sun,
    )
    return Observed(intent, contract.contract_address, tuple(extra))


def _token_call(call_data: bytes) -> tuple[str | None, str | None, int]:
    """(kind, recipient or spender, amount) of a TRC20 transfer or approve call; kind None for any other call."""
    if call_data[:4] == TRANSFER_SELECTOR:
        try:
            recipient, amount = decode_transfer_call(call_data)
        except AbiError:
            return None, None, 0
        return "TRC20_TRANSFER", recipient, amount
    if call_data[:4] == _APPROVE_SELECTOR and len(call_data) == _ONE_ARGUMENT_CALL:
        try:
            return "TRC20_APPROVE", decode_address_word(call_data[4:36]), decode_uint256(call_data[36:68])
        except AbiError:
            return None, None, 0
    return None, None, 0


def mismatches(stated: Intent, observed: Observed) -> tuple[PreconditionViolation, ...]:
    """Each field of the stated intent that the transaction contradicts (as `intent.<field>`), then whatever the
    transaction does that an intent cannot state; empty when they agree."""
    found = []
    for spec in fields(Intent):
        said, done = getattr(stated, spec.name), getattr(observed.intent, spec.name)
        if said != done:
            found.append(
                PreconditionViolation(f"intent.{spec.name}", f"the intent says {_shown(said)}, raw_data {_shown(done)}")
            )
    return (*found, *observed.unexpressible)


def _shown(value: object) -> str:
    if value is None:
        return "nothing"
    return repr(value) if isinstance(value, str) else str(value)

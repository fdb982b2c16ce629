"""TRON contracts (the one action a transaction carries): build them from an intent, decode them back to check one.

A contract is a protocol.Transaction.Contract: its ContractType and a google.protobuf.Any holding the contract message
under TRON's type_url "type.googleapis.com/protocol.<type name>".
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError, Message

from lucid.tron.chain import protocol_pb2 as protocol

from ._abi import encode_transfer
from ._address import decode_address, to_base58
from ._amounts import validate_amount
from ._exceptions import ChainError, InvalidAddress, MalformedTransaction

__all__ = [
    "CONTRACT_MESSAGES",
    "RESOURCES",
    "TYPE_URL_PREFIX",
    "DecodedContract",
    "decode_contract",
    "delegate_resource",
    "freeze_balance_v2",
    "make_contract",
    "resource_code",
    "resource_name",
    "transfer_contract",
    "trc20_transfer",
    "trigger_smart_contract",
    "undelegate_resource",
    "unfreeze_balance_v2",
    "withdraw_expire_unfreeze",
    "cancel_all_unfreeze_v2",
]

TYPE_URL_PREFIX = "type.googleapis.com/protocol."

# The contract types lucid-tron builds and can check, by TRON's ContractType name.
CONTRACT_MESSAGES: dict[str, type[Message]] = {
    "TransferContract": protocol.TransferContract,
    "TriggerSmartContract": protocol.TriggerSmartContract,
    "FreezeBalanceV2Contract": protocol.FreezeBalanceV2Contract,
    "UnfreezeBalanceV2Contract": protocol.UnfreezeBalanceV2Contract,
    "WithdrawExpireUnfreezeContract": protocol.WithdrawExpireUnfreezeContract,
    "DelegateResourceContract": protocol.DelegateResourceContract,
    "UnDelegateResourceContract": protocol.UnDelegateResourceContract,
    "CancelAllUnfreezeV2Contract": protocol.CancelAllUnfreezeV2Contract,
}

RESOURCES: dict[str, int] = {
    "BANDWIDTH": protocol.BANDWIDTH,
    "ENERGY": protocol.ENERGY,
    "TRON_POWER": protocol.TRON_POWER,
}
_RESOURCE_NAMES = {code: name for name, code in RESOURCES.items()}
_TYPE_NAMES = frozenset(protocol.Transaction.Contract.ContractType.values())


def resource_code(resource: str | int) -> int:
    """TRON's ResourceCode number of "BANDWIDTH" (0), "ENERGY" (1) or "TRON_POWER" (2), or of the number itself."""
    if isinstance(resource, str) and resource in RESOURCES:
        return RESOURCES[resource]
    if isinstance(resource, int) and not isinstance(resource, bool) and resource in _RESOURCE_NAMES:
        return resource
    raise ChainError(
        f"resource must be BANDWIDTH, ENERGY or TRON_POWER (or 0, 1, 2), got {resource!r}", reason="INVALID_RESOURCE"
    )


def resource_name(code: int) -> str:
    """"BANDWIDTH", "ENERGY" or "TRON_POWER" for a ResourceCode number."""
    return _RESOURCE_NAMES[resource_code(code)]


def make_contract(message: Message, *, permission_id: int = 0) -> protocol.Transaction.Contract:
    """Wrap a contract message (TransferContract, ...) with its ContractType and TRON's type_url.

    Any.Pack is not used: it would write this package's name into the type_url instead of TRON's `protocol`.
    """
    type_name = message.DESCRIPTOR.name
    if CONTRACT_MESSAGES.get(type_name) is not type(message):
        raise ChainError(f"{type_name} is not a contract type lucid-tron builds", reason="UNSUPPORTED_CONTRACT")
    contract = protocol.Transaction.Contract(type=protocol.Transaction.Contract.ContractType.Value(type_name))
    contract.parameter.type_url = TYPE_URL_PREFIX + type_name
    contract.parameter.value = message.SerializeToString(deterministic=True)
    if permission_id:
        contract.Permission_id = permission_id
    return contract


def transfer_contract(owner: str, to: str, amount_sun: int) -> protocol.Transaction.Contract:
    """Send `amount_sun` SUN of TRX from `owner` to `to` (addresses base58 or hex)."""
    return make_contract(
        protocol.TransferContract(
            owner_address=decode_address(owner),
            to_address=decode_address(to),
            amount=validate_amount(amount_sun, field="amount_sun"),
        )
    )


def trigger_smart_contract(
    owner: str, contract_address: str, data: bytes, call_value_sun: int = 0
) -> protocol.Transaction.Contract:
    """Call `contract_address` with ABI call `data`, sending `call_value_sun` SUN along (usually 0)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ChainError(f"call data must be bytes, got {type(data).__name__}", reason="INVALID_CALL_DATA")
    return make_contract(
        protocol.TriggerSmartContract(
            owner_address=decode_address(owner),
            contract_address=decode_address(contract_address),
            call_value=validate_amount(call_value_sun, field="call_value_sun", allow_zero=True),
            data=bytes(data),
        )
    )


def trc20_transfer(owner: str, token: str, to: str, amount: int) -> protocol.Transaction.Contract:
    """TRC20 transfer(to, amount) of `token` from `owner`; amount in the token's base units (USDT: 6 decimals).

    The amount is held to int64 like every lucid-tron amount (USDT's whole supply fits many times over); encode_transfer
    takes the full uint256 range.
    """
    validate_amount(amount, field="amount")
    return trigger_smart_contract(owner, token, encode_transfer(to, amount))


def freeze_balance_v2(owner: str, amount_sun: int, resource: str | int) -> protocol.Transaction.Contract:
    """Stake 2.0: stake `amount_sun` SUN for BANDWIDTH, ENERGY or TRON_POWER."""
    return make_contract(
        protocol.FreezeBalanceV2Contract(
            owner_address=decode_address(owner),
            frozen_balance=validate_amount(amount_sun, field="amount_sun"),
            resource=resource_code(resource),
        )
    )


def unfreeze_balance_v2(owner: str, amount_sun: int, resource: str | int) -> protocol.Transaction.Contract:
    """Stake 2.0: start unstaking `amount_sun` SUN of `resource` (withdrawable after the chain's wait)."""
    return make_contract(
        protocol.UnfreezeBalanceV2Contract(
            owner_address=decode_address(owner),
            unfreeze_balance=validate_amount(amount_sun, field="amount_sun"),
            resource=resource_code(resource),
        )
    )


def delegate_resource(
    owner: str,
    receiver: str,
    amount_sun: int,
    resource: str | int,
    lock: bool = False,
    lock_period: int = 0,
) -> protocol.Transaction.Contract:
    """Stake 2.0: lend the `resource` of `amount_sun` staked SUN to `receiver`.

    With `lock`, the delegation cannot be taken back for `lock_period` blocks (0 = the chain's default, 3 days).
    """
    if not isinstance(lock, bool):
        raise ChainError(f"lock must be a bool, got {type(lock).__name__}", reason="INVALID_LOCK")
    lock_period = validate_amount(lock_period, field="lock_period", allow_zero=True)
    if lock_period and not lock:
        raise ChainError("lock_period is only meaningful with lock=True", reason="INVALID_LOCK")
    return make_contract(
        protocol.DelegateResourceContract(
            owner_address=decode_address(owner),
            resource=resource_code(resource),
            balance=validate_amount(amount_sun, field="amount_sun"),
            receiver_address=decode_address(receiver),
            lock=lock,
            lock_period=lock_period,
        )
    )


def undelegate_resource(
    owner: str, receiver: str, amount_sun: int, resource: str | int
) -> protocol.Transaction.Contract:
    """Stake 2.0: take back the `resource` of `amount_sun` staked SUN delegated to `receiver`."""
    return make_contract(
        protocol.UnDelegateResourceContract(
            owner_address=decode_address(owner),
            resource=resource_code(resource),
            balance=validate_amount(amount_sun, field="amount_sun"),
            receiver_address=decode_address(receiver),
        )
    )


def withdraw_expire_unfreeze(owner: str) -> protocol.Transaction.Contract:
    """Stake 2.0: move every unstake whose wait has expired back to the balance."""
    return make_contract(protocol.WithdrawExpireUnfreezeContract(owner_address=decode_address(owner)))


def cancel_all_unfreeze_v2(owner: str) -> protocol.Transaction.Contract:
    """Stake 2.0: cancel every pending unstake (expired ones are withdrawn, the rest re-staked)."""
    return make_contract(protocol.CancelAllUnfreezeV2Contract(owner_address=decode_address(owner)))


@dataclass(frozen=True)
class DecodedContract:
    """What a contract does, in lucid-tron's words. Fields that do not apply to `contract_type` are None.

    - contract_type: TRON's name, e.g. "TransferContract", "TriggerSmartContract".
    - owner_address: the signer's account, base58.
    - to_address: who receives: the TRX (TransferContract) or the resource (Delegate/UnDelegateResourceContract).
    - contract_address: the called contract (TriggerSmartContract).
    - amount_sun: TRX moved, staked, unstaked or whose resource is (un)delegated, in SUN.
    - call_value_sun / call_data: TRX sent with a contract call and its ABI call data.
    - resource: "BANDWIDTH", "ENERGY" or "TRON_POWER".
    - lock / lock_period: DelegateResourceContract's lock (lock_period in blocks).
    - permission_id: the signing permission (0 = owner).
    """

    contract_type: str
    owner_address: str
    to_address: str | None = None
    contract_address: str | None = None
    amount_sun: int | None = None
    call_value_sun: int | None = None
    call_data: bytes | None = None
    resource: str | None = None
    lock: bool | None = None
    lock_period: int | None = None
    permission_id: int = 0


def parse_exact(message_type: type[Message], data: bytes, what: str) -> Message:
    """Parse `data`, refusing bytes with fields this schema does not know or that are not canonically encoded.

    What is signed must be understood completely: an unknown field could mean something to the network that the
    check before signing never saw. Canonical bytes also make sha256(data) the txid the network computes, since a
    node hashes its own re-serialization of raw_data.
    """
    message = message_type()
    try:
        message.ParseFromString(data)
    except DecodeError as error:
        raise MalformedTransaction(f"{what} is not a valid {message_type.__name__}: {error}") from None
    known = message_type()
    known.CopyFrom(message)
    known.DiscardUnknownFields()
    if known.SerializeToString(deterministic=True) != data:
        raise MalformedTransaction(
            f"{what} has fields unknown to lucid-tron or a non-canonical encoding", reason="UNKNOWN_FIELDS"
        )
    return message


def _address(raw: bytes, field: str) -> str:
    try:
        return to_base58(raw)
    except InvalidAddress as error:
        raise MalformedTransaction(f"{field} is not a TRON address: {error}") from None


def decode_contract(contract: protocol.Transaction.Contract) -> DecodedContract:
    """Decode a contract of a supported type; MalformedTransaction for anything unexpected in it."""
    type_number = contract.type
    type_name = protocol.Transaction.Contract.ContractType.Name(type_number) if type_number in _TYPE_NAMES else None
    message_type = CONTRACT_MESSAGES.get(type_name or "")
    if message_type is None:
        raise MalformedTransaction(
            f"contract type {type_name or type_number} is not one lucid-tron checks", reason="UNSUPPORTED_CONTRACT"
        )
    if contract.parameter.type_url != TYPE_URL_PREFIX + type_name:
        raise MalformedTransaction(
            f"{type_name} carries parameter type_url {contract.parameter.type_url!r}, expected "
            f"{TYPE_URL_PREFIX + type_name!r}"
        )
    if contract.provider or contract.ContractName:
        raise MalformedTransaction(f"{type_name} sets provider or ContractName, which TRON does not use")
    value = parse_exact(message_type, contract.parameter.value, f"{type_name} parameter")
    owner = _address(value.owner_address, "owner_address")
    common = {"contract_type": type_name, "owner_address": owner, "permission_id": contract.Permission_id}
    if isinstance(value, protocol.TransferContract):
        return DecodedContract(**common, to_address=_address(value.to_address, "to_address"), amount_sun=value.amount)
    if isinstance(value, protocol.TriggerSmartContract):
        if value.call_token_value or value.token_id:
            raise MalformedTransaction("TriggerSmartContract sends a TRC10 token along, which lucid-tron never does")
        return DecodedContract(
            **common,
            contract_address=_address(value.contract_address, "contract_address"),
            call_value_sun=value.call_value,
            call_data=value.data,
        )
    if isinstance(value, protocol.FreezeBalanceV2Contract):
        return DecodedContract(**common, amount_sun=value.frozen_balance, resource=_resource(value.resource))
    if isinstance(value, protocol.UnfreezeBalanceV2Contract):
        return DecodedContract(**common, amount_sun=value.unfreeze_balance, resource=_resource(value.resource))
    if isinstance(value, protocol.DelegateResourceContract):
        return DecodedContract(
            **common,
            to_address=_address(value.receiver_address, "receiver_address"),
            amount_sun=value.balance,
            resource=_resource(value.resource),
            lock=value.lock,
            lock_period=value.lock_period,
        )
    if isinstance(value, protocol.UnDelegateResourceContract):
        return DecodedContract(
            **common,
            to_address=_address(value.receiver_address, "receiver_address"),
            amount_sun=value.balance,
            resource=_resource(value.resource),
        )
    # WithdrawExpireUnfreezeContract, CancelAllUnfreezeV2Contract: the owner is all there is.
    return DecodedContract(**common)



def _resource(code: int) -> str:
    if code not in _RESOURCE_NAMES:
        raise MalformedTransaction(f"resource {code} is not BANDWIDTH (0), ENERGY (1) or TRON_POWER (2)")
    return _RESOURCE_NAMES[code]

"""Execute one transaction against a ledger, as java-tron's processTransaction does, and write its receipt.

Order (java-tron's): bandwidth (staked, then the free 600/day, then burned at 1,000 SUN a point; a transfer that
creates an account pays the 0.1 TRX create-account fee instead), the memo fee, then the contract: validate, execute.
The ledger passed in is changed in place even when a ContractValidateError follows: callers hand in a copy.

Errors carry java-tron's messages: ContractValidateError -> broadcast code CONTRACT_VALIDATE_ERROR,
ResourceInsufficientError -> BANDWITH_ERROR (sic, java-tron's spelling).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lucid_tron.chain import DecodedTransaction, decode_address, to_base58

from ._config import ResourcePrices
from ._ledger import BANDWIDTH, ENERGY, SLOT_MS, Delegation, Ledger, Unfreezing
from ._resources import (
    available_energy,
    available_free_net,
    available_staked_net,
    can_delegate_max,
    energy_used,
    free_net_used,
    net_used,
)
from ._trc20 import Log, NativeContract, commit

__all__ = ["ContractValidateError", "Receipt", "ResourceInsufficientError", "execute"]

SUN_PER_TRX = 1_000_000
# Bytes added to a transaction's size for its result (java-tron's MAX_RESULT_SIZE_IN_TX).
RESULT_SIZE_BYTES = 64
MAX_PENDING_UNFREEZES = 32
# Delegation lock periods count TRON's 3 s slots (SLOT_MS), whatever devnet's own block interval.
DEFAULT_LOCK_PERIOD_BLOCKS = 86_400  # 3 days


class ContractValidateError(Exception):
    """The contract is not valid against the current state (java-tron's ContractValidateException)."""


class ResourceInsufficientError(Exception):
    """Not enough bandwidth and not enough TRX to burn for it (java-tron's AccountResourceInsufficientException)."""


@dataclass
class Receipt:
    """A transaction's outcome: java-tron's TransactionInfo plus the contractRet of the block's copy of the tx."""

    txid: bytes
    fee: int = 0
    net_usage: int = 0
    net_fee: int = 0
    energy_usage: int = 0
    energy_fee: int = 0
    energy_usage_total: int = 0
    result: str | None = None  # receipt.result, for contract calls: SUCCESS, REVERT, OUT_OF_ENERGY
    contract_ret: str = "SUCCESS"
    contract_result: bytes = b""
    contract_address: bytes | None = None
    logs: list[Log] = field(default_factory=list)
    internal_calls: list[tuple[bytes, bytes]] = field(default_factory=list)  # (caller, called contract)
    failed: bool = False
    res_message: str = ""
    withdraw_expire_amount: int = 0
    cancel_unfreeze_v2_amount: dict[str, int] = field(default_factory=dict)
    block_number: int = 0
    block_timestamp: int = 0


def _b58(address: bytes) -> str:
    return to_base58(address)


def execute(
    ledger: Ledger,
    tx: DecodedTransaction,
    size_bytes: int,
    now_ms: int,
    *,
    prices: ResourcePrices,
    contracts: Mapping[bytes, NativeContract],
    period: int,
    unfreeze_delay_ms: int,
    charge_fees: bool = True,
) -> Receipt:
    """Apply `tx` (already signature-checked) to `ledger` at chain time `now_ms`; return its receipt.

    size_bytes is the serialized size of the signed transaction (what bandwidth is charged for); `period` is the
    maintenance period of the block it executes in (the contracts' dynamic energy factor). With
    charge_fees=False only the contract is validated and applied (no bandwidth, no memo fee), as java-tron's
    create* paths validate a transaction they build.
    """
    contract = tx.contract
    owner = decode_address(contract.owner_address)
    receipt = Receipt(txid=tx.txid)
    account = ledger.account(owner)
    if account is None:
        raise ContractValidateError(f"account [{contract.owner_address}] does not exist")

    creates_account = contract.contract_type == "TransferContract" and ledger.account(
        decode_address(contract.to_address)
    ) is None
    if charge_fees:
        _consume_bandwidth(ledger, owner, size_bytes + RESULT_SIZE_BYTES, creates_account, now_ms, prices, receipt)
        if tx.memo:
            _burn(ledger, owner, prices.memo_fee_sun, receipt, what="memo fee")

    handler = _HANDLERS.get(contract.contract_type)
    if handler is None:
        raise ContractValidateError(f"contract type {contract.contract_type} is not supported by devnet")
    context = _Context(ledger, owner, now_ms, prices, contracts, period, unfreeze_delay_ms, receipt, tx)
    handler(context)
    ledger.account_mut(owner).latest_operation_time = now_ms
    return receipt


@dataclass
class _Context:
    ledger: Ledger
    owner: bytes
    now_ms: int
    prices: ResourcePrices
    contracts: Mapping[bytes, NativeContract]
    period: int
    unfreeze_delay_ms: int
    receipt: Receipt
    tx: DecodedTransaction


def _consume_bandwidth(
    ledger: Ledger, owner: bytes, size: int, creates_account: bool, now: int, prices: ResourcePrices, receipt: Receipt
) -> None:
    account = ledger.account(owner)
    assert account is not None
    if available_staked_net(ledger, account, prices, now) >= size:
        mutable = ledger.account_mut(owner)
        mutable.net_usage = net_used(mutable, now) + size
        mutable.latest_consume_time = now
        receipt.net_usage = size
        return
    if creates_account:
        # Free bandwidth never pays for creating an account: the create-account fee does.
        fee = prices.create_account_fee_sun
        if account.balance < fee:
            raise ResourceInsufficientError(
                f"account {_b58(owner)} has insufficient balance[{account.balance}] to create new account"
            )
        _burn(ledger, owner, fee, receipt, what="create account fee")
        receipt.net_fee += fee
        return
    if available_free_net(account, prices, now) >= size:
        mutable = ledger.account_mut(owner)
        mutable.free_net_usage = free_net_used(mutable, now) + size
        mutable.latest_consume_free_time = now
        receipt.net_usage = size
        return
    fee = size * prices.sun_per_bandwidth_point
    if account.balance < fee:
        raise ResourceInsufficientError(
            f"account {_b58(owner)} has insufficient bandwidth[{size}] and balance[{account.balance}] to burn {fee} SUN"
        )
    _burn(ledger, owner, fee, receipt, what="bandwidth")
    receipt.net_fee += fee


def _burn(ledger: Ledger, address: bytes, sun: int, receipt: Receipt, *, what: str) -> None:
    account = ledger.account_mut(address)
    if account.balance < sun:
        raise ResourceInsufficientError(f"account {_b58(address)} has insufficient balance to pay the {what}")
    account.balance -= sun
    receipt.fee += sun


# -- TRX ----------------------------------------------------------------------------------------------------------


def _transfer(c: _Context) -> None:
    contract = c.tx.contract
    to = decode_address(contract.to_address)
    amount = contract.amount_sun or 0
    if to == c.owner:
        raise ContractValidateError("Cannot transfer TRX to yourself.")
    if amount <= 0:
        raise ContractValidateError("Amount must be greater than 0.")
    receiver = c.ledger.account(to)
    if receiver is not None and receiver.is_contract:
        raise ContractValidateError("Cannot transfer TRX to a smartContract.")
    fee = c.prices.create_new_account_fee_in_system_contract_sun if receiver is None else 0
    owner = c.ledger.account_mut(c.owner)
    if owner.balance < amount + fee:
        raise ContractValidateError("Validate TransferContract error, balance is not sufficient.")
    owner.balance -= amount + fee
    c.receipt.fee += fee
    if receiver is None:
        c.ledger.create_account(to, c.now_ms)
    c.ledger.account_mut(to).balance += amount


# -- contracts -----------------------------------------------------------------------------------------------------


def _trigger(c: _Context) -> None:
    contract = c.tx.contract
    target = decode_address(contract.contract_address or "")
    fee_limit = c.tx.fee_limit_sun
    if fee_limit < 0 or fee_limit > c.prices.max_fee_limit_sun:
        raise ContractValidateError(f"feeLimit must be >= 0 and <= {c.prices.max_fee_limit_sun}")
    called = c.contracts.get(target)
    if called is None:
        raise ContractValidateError("No contract or not a smart contract")
    call_value = contract.call_value_sun or 0
    owner = c.ledger.account(c.owner)
    assert owner is not None
    if owner.balance < call_value:
        raise ContractValidateError("Validate InternalTransfer error, balance is not sufficient.")

    price = c.prices.sun_per_energy
    staked_left = available_energy(c.ledger, owner, c.prices, c.now_ms)
    energy_cap = min(staked_left + max(owner.balance - call_value, 0) // price, fee_limit // price)
    outcome = called.call(c.ledger, c.owner, contract.call_data or b"", call_value, period=c.period)
    receipt = c.receipt
    receipt.contract_address = target
    if outcome.energy > energy_cap:
        used = energy_cap
        receipt.result = receipt.contract_ret = "OUT_OF_ENERGY"
        receipt.failed = True
        receipt.res_message = (
            f"Not enough energy for 'SSTORE' operation executing: curInvokeEnergyLimit[{energy_cap}], "
            f"curOpEnergy[{outcome.energy - energy_cap}], usedEnergy[{energy_cap}]"
        )
    elif outcome.reverted:
        used = outcome.energy
        receipt.result = receipt.contract_ret = "REVERT"
        receipt.failed = True
        receipt.res_message = "REVERT opcode executed"
        receipt.contract_result = outcome.output
    else:
        used = outcome.energy
        receipt.result = receipt.contract_ret = "SUCCESS"
        receipt.contract_result = outcome.output
        receipt.logs = outcome.logs
        receipt.internal_calls = outcome.internal_calls
        commit(c.ledger, outcome)

    from_stake = min(staked_left, used)
    burned = (used - from_stake) * price
    mutable = c.ledger.account_mut(c.owner)
    if from_stake:
        mutable.energy_usage = energy_used(mutable, c.now_ms) + from_stake
        mutable.latest_consume_time_for_energy = c.now_ms
    mutable.balance -= burned
    receipt.energy_usage = from_stake
    receipt.energy_fee = burned
    receipt.energy_usage_total = used
    receipt.fee += burned


# -- Stake 2.0 ----------------------------------------------------------------------------------------------------


def _resource_of(c: _Context) -> str:
    resource = c.tx.contract.resource
    if resource not in (BANDWIDTH, ENERGY):
        raise ContractValidateError("ResourceCode error, valid ResourceCode[BANDWIDTH、ENERGY]")
    return resource


def _freeze(c: _Context) -> None:
    amount = c.tx.contract.amount_sun or 0
    resource = _resource_of(c)
    owner = c.ledger.account_mut(c.owner)
    if amount <= 0:
        raise ContractValidateError("frozenBalance must be positive")
    if amount < SUN_PER_TRX:
        raise ContractValidateError("frozenBalance must be greater than or equal to 1 TRX")
    if amount > owner.balance:
        raise ContractValidateError("frozenBalance must be less than or equal to accountBalance")
    owner.balance -= amount
    owner.frozen[resource] += amount


def _withdraw_expired(c: _Context) -> int:
    owner = c.ledger.account_mut(c.owner)
    expired = [u for u in owner.unfreezing if u.expire_time_ms <= c.now_ms]
    amount = sum(u.amount for u in expired)
    if amount:
        owner.unfreezing = [u for u in owner.unfreezing if u.expire_time_ms > c.now_ms]
        owner.balance += amount
        c.receipt.withdraw_expire_amount = amount
    return amount


def _unfreeze(c: _Context) -> None:
    amount = c.tx.contract.amount_sun or 0
    resource = _resource_of(c)
    owner = c.ledger.account(c.owner)
    assert owner is not None
    if owner.frozen[resource] <= 0:
        name = "BANDWIDTH" if resource == BANDWIDTH else "Energy"
        raise ContractValidateError(f"no frozenBalance({name})")
    if amount <= 0 or amount > owner.frozen[resource]:
        raise ContractValidateError(f"Invalid unfreeze_balance, [{amount}] is error")
    pending = [u for u in owner.unfreezing if u.expire_time_ms > c.now_ms]
    if len(pending) >= MAX_PENDING_UNFREEZES:
        raise ContractValidateError("Invalid unfreeze operation, unfreezing times is over limit")
    _withdraw_expired(c)
    mutable = c.ledger.account_mut(c.owner)
    mutable.frozen[resource] -= amount
    mutable.unfreezing.append(Unfreezing(resource, amount, c.now_ms + c.unfreeze_delay_ms))


def _withdraw(c: _Context) -> None:
    owner = c.ledger.account(c.owner)
    assert owner is not None
    if not any(u.expire_time_ms <= c.now_ms for u in owner.unfreezing):
        raise ContractValidateError("no unFreeze balance to withdraw ")
    _withdraw_expired(c)


def _cancel_all_unfreeze(c: _Context) -> None:
    owner = c.ledger.account(c.owner)
    assert owner is not None
    if not owner.unfreezing:
        raise ContractValidateError("No unfreezeV2 list to cancel")
    _withdraw_expired(c)
    mutable = c.ledger.account_mut(c.owner)
    cancelled = {BANDWIDTH: 0, ENERGY: 0}
    for unfreezing in mutable.unfreezing:
        mutable.frozen[unfreezing.resource] += unfreezing.amount
        cancelled[unfreezing.resource] += unfreezing.amount
    mutable.unfreezing = []
    c.receipt.cancel_unfreeze_v2_amount = {k: v for k, v in cancelled.items() if v}


def _delegate(c: _Context) -> None:
    contract = c.tx.contract
    amount = contract.amount_sun or 0
    resource = _resource_of(c)
    receiver_address = decode_address(contract.to_address or "")
    owner = c.ledger.account(c.owner)
    assert owner is not None
    if amount < SUN_PER_TRX:
        raise ContractValidateError("delegateBalance must be greater than or equal to 1 TRX")
    if amount > can_delegate_max(c.ledger, owner, resource, c.prices, c.now_ms):
        name = "FreezeBandwidthV2" if resource == BANDWIDTH else "FreezeEnergyV2"
        raise ContractValidateError(f"delegateBalance must be less than or equal to available {name} balance")
    if receiver_address == c.owner:
        raise ContractValidateError("receiverAddress must not be the same as ownerAddress")
    receiver = c.ledger.account(receiver_address)
    if receiver is None:
        raise ContractValidateError(f"Account[{contract.to_address}] not exists")
    if receiver.is_contract:
        raise ContractValidateError("Do not allow delegate resources to contract addresses")
    lock_period = contract.lock_period or 0
    if lock_period < 0 or lock_period > 365 * DEFAULT_LOCK_PERIOD_BLOCKS // 3:
        raise ContractValidateError(
            "The lock period of delegate resource cannot be less than 0 and cannot exceed 1 year!"
        )

    mutable_owner = c.ledger.account_mut(c.owner)
    mutable_owner.frozen[resource] -= amount
    mutable_owner.delegated_out[resource] += amount
    c.ledger.account_mut(receiver_address).acquired[resource] += amount
    locked = bool(contract.lock)
    key = (c.owner, receiver_address, locked)
    current = c.ledger.delegations.get(key) or Delegation(c.owner, receiver_address, locked)
    expire = c.now_ms + (lock_period or DEFAULT_LOCK_PERIOD_BLOCKS) * SLOT_MS if locked else 0
    c.ledger.put_delegation(current.with_amount(resource, current.amount(resource) + amount, expire))


def _undelegate(c: _Context) -> None:
    contract = c.tx.contract
    amount = contract.amount_sun or 0
    resource = _resource_of(c)
    receiver_address = decode_address(contract.to_address or "")
    if receiver_address == c.owner:
        raise ContractValidateError("receiverAddress must not be the same as ownerAddress")
    records = c.ledger.delegations_of(c.owner, receiver_address)
    if not any(r.amount(resource) for r in records):
        raise ContractValidateError("delegated Resource does not exist")
    if amount <= 0:
        raise ContractValidateError("unDelegateBalance must be more than 0 TRX")
    unlocked = [r for r in records if not r.locked or r.expire_ms(resource) <= c.now_ms]
    available = sum(r.amount(resource) for r in unlocked)
    if amount > available:
        raise ContractValidateError(
            f"insufficient delegatedFrozenBalance({resource}), request={amount}, unlock_balance={available}"
        )
    left = amount
    for record in sorted(unlocked, key=lambda r: r.locked):
        take = min(left, record.amount(resource))
        c.ledger.put_delegation(record.with_amount(resource, record.amount(resource) - take))
        left -= take
        if not left:
            break
    owner = c.ledger.account_mut(c.owner)
    owner.delegated_out[resource] -= amount
    owner.frozen[resource] += amount
    if c.ledger.account(receiver_address) is not None:
        receiver = c.ledger.account_mut(receiver_address)
        receiver.acquired[resource] = max(0, receiver.acquired[resource] - amount)


_HANDLERS = {
    "TransferContract": _transfer,
    "TriggerSmartContract": _trigger,
    "FreezeBalanceV2Contract": _freeze,
    "UnfreezeBalanceV2Contract": _unfreeze,
    "WithdrawExpireUnfreezeContract": _withdraw,
    "CancelAllUnfreezeV2Contract": _cancel_all_unfreeze,
    "DelegateResourceContract": _delegate,
    "UnDelegateResourceContract": _undelegate,
}

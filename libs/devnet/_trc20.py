"""A TRC20 token executed natively in Python (no EVM): the USDT contract of devnet.

The ABI, return data, revert data and event logs are byte-for-byte what a Solidity TRC20 produces, so tronpy's
contract objects and our own ABI decoding read them as they read mainnet USDT. Energy is not metered per opcode:
each call costs a fixed amount close to what USDT costs on mainnet (notes/tron-facts.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lucid_tron.chain import (
    TRANSFER_EVENT_TOPIC,
    AbiError,
    decode_address,
    decode_address_word,
    decode_uint256,
    encode_address,
    encode_bool,
    encode_uint256,
    keccak256,
    selector,
    to_base58,
)

from ._ledger import Ledger

__all__ = ["CallOutcome", "Log", "Trc20Token", "ENERGY"]

APPROVAL_EVENT_TOPIC = keccak256(b"Approval(address,address,uint256)")
ERROR_SELECTOR = selector("Error(string)")


class ENERGY:
    """Energy charged per call. Transfers match mainnet USDT (with its energy factor); the rest are estimates."""

    TRANSFER_TO_HOLDER = 64_285
    TRANSFER_TO_NEW_HOLDER = 130_285  # the recipient's balance slot goes from zero to non-zero
    TRANSFER_FROM_SURCHARGE = 10_850  # transferFrom also rewrites the allowance slot
    APPROVE_FROM_ZERO = 48_000
    APPROVE_FROM_NONZERO = 13_000
    REVERT = 2_000
    VIEW = 900


@dataclass(frozen=True)
class Log:
    """An event log: the emitting contract (21-byte address), 32-byte topics and the data."""

    address: bytes
    topics: tuple[bytes, ...]
    data: bytes


@dataclass
class CallOutcome:
    """The result of a call before it is committed: energy, revert flag, return (or revert) data, logs, writes."""

    energy: int
    reverted: bool
    output: bytes
    logs: list[Log] = field(default_factory=list)
    balances: dict[bytes, int] = field(default_factory=dict)
    allowances: dict[tuple[bytes, bytes], int] = field(default_factory=dict)
    revert_reason: str = ""


class _Revert(Exception):
    pass


def _encode_string(text: str) -> bytes:
    raw = text.encode()
    padded = raw + bytes(-len(raw) % 32)
    return encode_uint256(32) + encode_uint256(len(raw)) + padded


def _revert_data(reason: str) -> bytes:
    return ERROR_SELECTOR + _encode_string(reason)


def _function(name: str, inputs: list[tuple[str, str]], outputs: list[str], mutability: str) -> dict:
    entry = {
        "name": name,
        "inputs": [{"name": arg, "type": kind} for arg, kind in inputs],
        "outputs": [{"name": "", "type": kind} for kind in outputs],
        "type": "Function",
        "stateMutability": mutability,
    }
    if mutability == "View":
        entry["constant"] = True
    return entry


def _event(name: str, inputs: list[tuple[str, str, bool]]) -> dict:
    return {
        "anonymous": False,
        "inputs": [{"indexed": indexed, "name": arg, "type": kind} for arg, kind, indexed in inputs],
        "name": name,
        "type": "Event",
    }


# TronGrid's form of a contract ABI (getcontract's abi.entrys): capitalised type and stateMutability.
TRC20_ABI: list[dict] = [
    _function("name", [], ["string"], "View"),
    _function("symbol", [], ["string"], "View"),
    _function("decimals", [], ["uint8"], "View"),
    _function("totalSupply", [], ["uint256"], "View"),
    _function("balanceOf", [("who", "address")], ["uint256"], "View"),
    _function("allowance", [("owner", "address"), ("spender", "address")], ["uint256"], "View"),
    _function("transfer", [("to", "address"), ("value", "uint256")], ["bool"], "Nonpayable"),
    _function("approve", [("spender", "address"), ("value", "uint256")], ["bool"], "Nonpayable"),
    _function("transferFrom", [("from", "address"), ("to", "address"), ("value", "uint256")], ["bool"], "Nonpayable"),
    _event("Transfer", [("from", "address", True), ("to", "address", True), ("value", "uint256", False)]),
    _event("Approval", [("owner", "address", True), ("spender", "address", True), ("value", "uint256", False)]),
]

_VIEWS = {selector(s): s for s in ("name()", "symbol()", "decimals()", "totalSupply()", "balanceOf(address)",
                                   "allowance(address,address)")}
_WRITES = {selector(s): s for s in ("transfer(address,uint256)", "approve(address,uint256)",
                                    "transferFrom(address,address,uint256)")}


class Trc20Token:
    """The token at `address`; its balances and allowances live in a `Ledger`."""

    def __init__(self, address: bytes, *, name: str, symbol: str, decimals: int, origin: bytes) -> None:
        self.address = address
        self.name = name
        self.symbol = symbol
        self.decimals = decimals
        self.origin = origin
        self.abi = TRC20_ABI
        # No EVM code runs; the bytecode field carries a marker so clients that read it get valid hex.
        self.bytecode = b"lucid-devnet native TRC20 " + symbol.encode()

    def is_constant(self, data: bytes) -> bool:
        """Whether the call is a view: TronGrid's triggersmartcontract then runs it instead of building a tx."""
        return data[:4] in _VIEWS

    def call(self, ledger: Ledger, caller: bytes, data: bytes, call_value: int = 0) -> CallOutcome:
        """Run the call against `ledger` without changing it; `commit` applies a successful outcome."""
        try:
            return self._dispatch(ledger, caller, data, call_value)
        except _Revert as revert:
            reason = str(revert)
            return CallOutcome(energy=ENERGY.REVERT, reverted=True, output=_revert_data(reason), revert_reason=reason)

    def commit(self, ledger: Ledger, outcome: CallOutcome) -> None:
        for holder, balance in outcome.balances.items():
            if balance:
                ledger.usdt_balances[holder] = balance
            else:
                ledger.usdt_balances.pop(holder, None)
        for pair, allowance in outcome.allowances.items():
            if allowance:
                ledger.usdt_allowances[pair] = allowance
            else:
                ledger.usdt_allowances.pop(pair, None)

    def mint(self, ledger: Ledger, holder: bytes, amount: int) -> None:
        """Credit `amount` base units out of band (genesis and /devnet/fund): no event, the supply grows."""
        ledger.usdt_balances[holder] = ledger.usdt_balances.get(holder, 0) + amount
        ledger.usdt_total_supply += amount

    # -- dispatch --------------------------------------------------------------------------------------------

    def _dispatch(self, ledger: Ledger, caller: bytes, data: bytes, call_value: int) -> CallOutcome:
        signature = _VIEWS.get(data[:4]) or _WRITES.get(data[:4])
        if signature is None:
            raise _Revert(f"function selector {data[:4].hex() or '(none)'} is not a function of this contract")
        if call_value:
            raise _Revert(f"{signature} is not payable")
        args = data[4:]
        if signature in _VIEWS.values():
            return CallOutcome(energy=ENERGY.VIEW, reverted=False, output=self._view(ledger, signature, args))
        if signature == "transfer(address,uint256)":
            to, value = _address_arg(args, 0), _uint_arg(args, 1)
            return self._transfer(ledger, caller, to, value, spender=None)
        if signature == "approve(address,uint256)":
            spender, value = _address_arg(args, 0), _uint_arg(args, 1)
            return self._approve(ledger, caller, spender, value)
        sender, to, value = _address_arg(args, 0), _address_arg(args, 1), _uint_arg(args, 2)
        return self._transfer(ledger, sender, to, value, spender=caller)

    def _view(self, ledger: Ledger, signature: str, args: bytes) -> bytes:
        if signature == "name()":
            return _encode_string(self.name)
        if signature == "symbol()":
            return _encode_string(self.symbol)
        if signature == "decimals()":
            return encode_uint256(self.decimals)
        if signature == "totalSupply()":
            return encode_uint256(ledger.usdt_total_supply)
        if signature == "balanceOf(address)":
            return encode_uint256(ledger.usdt_balances.get(_address_arg(args, 0), 0))
        owner, spender = _address_arg(args, 0), _address_arg(args, 1)
        return encode_uint256(ledger.usdt_allowances.get((owner, spender), 0))

    def _transfer(self, ledger: Ledger, sender: bytes, to: bytes, value: int, *, spender: bytes | None) -> CallOutcome:
        sender_balance = ledger.usdt_balances.get(sender, 0)
        if value > sender_balance:
            raise _Revert("transfer amount exceeds balance")
        outcome = CallOutcome(energy=0, reverted=False, output=encode_bool(True))
        if spender is not None:
            allowance = ledger.usdt_allowances.get((sender, spender), 0)
            if value > allowance:
                raise _Revert("transfer amount exceeds allowance")
            outcome.allowances[(sender, spender)] = allowance - value
            outcome.energy += ENERGY.TRANSFER_FROM_SURCHARGE
        to_balance = ledger.usdt_balances.get(to, 0)
        outcome.energy += ENERGY.TRANSFER_TO_HOLDER if to_balance or to == sender else ENERGY.TRANSFER_TO_NEW_HOLDER
        outcome.balances[sender] = sender_balance - value
        outcome.balances[to] = outcome.balances.get(to, to_balance) + value
        outcome.logs.append(self._log(TRANSFER_EVENT_TOPIC, sender, to, value))
        return outcome

    def _approve(self, ledger: Ledger, owner: bytes, spender: bytes, value: int) -> CallOutcome:
        current = ledger.usdt_allowances.get((owner, spender), 0)
        energy = ENERGY.APPROVE_FROM_NONZERO if current else ENERGY.APPROVE_FROM_ZERO
        outcome = CallOutcome(energy=energy, reverted=False, output=encode_bool(True))
        outcome.allowances[(owner, spender)] = value
        outcome.logs.append(self._log(APPROVAL_EVENT_TOPIC, owner, spender, value))
        return outcome

    def _log(self, topic: bytes, first: bytes, second: bytes, value: int) -> Log:
        return Log(
            address=self.address,
            topics=(topic, encode_address(to_base58(first)), encode_address(to_base58(second))),
            data=encode_uint256(value),
        )


def _word(args: bytes, index: int) -> bytes:
    word = args[32 * index : 32 * index + 32]
    if len(word) != 32:
        raise _Revert(f"call data is too short for argument {index}")
    return word


def _address_arg(args: bytes, index: int) -> bytes:
    try:
        return decode_address(decode_address_word(_word(args, index)))
    except AbiError as error:
        raise _Revert(f"argument {index} is not an address: {error}") from None


def _uint_arg(args: bytes, index: int) -> int:
    return decode_uint256(_word(args, index))

"""A TRC20 token executed natively in Python (no EVM): devnet's USDT contract and its lookalike.

The ABI, return data, revert data and event logs are byte-for-byte what mainnet USDT (TetherToken) produces, so
tronpy's contract objects and our own ABI decoding read them as they read mainnet USDT. Like mainnet USDT:
`transfer` returns false (32 zero bytes) although it succeeded (TetherToken's transfer has no return statement;
transferFrom and approve return true), and an address argument is masked to its low 20 bytes, so a word with
non-zero padding still names an address. Energy is not metered per opcode: each call costs a fixed amount close
to what USDT costs on mainnet (notes/tron-facts.md), scaled by the contract's dynamic energy factor of the
maintenance period.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from abc import ABC, abstractmethod
from collections.abc import Sequence

from lucid_tron.chain import (
    TRANSFER_EVENT_TOPIC,
    decode_uint256,
    encode_bool,
    encode_uint256,
    keccak256,
    selector,
)

from ._ledger import Ledger, TokenBook

__all__ = ["CallOutcome", "ENERGY", "Log", "NativeContract", "Trc20Token", "commit", "function_abi"]

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
    """The result of a call before it is committed: energy, revert flag, return (or revert) data, logs, writes.

    Writes are keyed by the token contract, so a contract that calls a token carries the token's writes.
    """

    energy: int
    reverted: bool
    output: bytes
    logs: list[Log] = field(default_factory=list)
    balances: dict[tuple[bytes, bytes], int] = field(default_factory=dict)  # (token, holder) -> balance
    allowances: dict[tuple[bytes, bytes, bytes], int] = field(default_factory=dict)  # (token, owner, spender)
    revert_reason: str = ""
    internal_calls: list[tuple[bytes, bytes]] = field(default_factory=list)  # (caller, called contract), in order


def commit(ledger: Ledger, outcome: CallOutcome) -> None:
    """Apply the writes of a successful call to `ledger`."""
    for (token, holder), balance in outcome.balances.items():
        balances = ledger.book(token).balances
        if balance:
            balances[holder] = balance
        else:
            balances.pop(holder, None)
    for (token, owner, spender), allowance in outcome.allowances.items():
        allowances = ledger.book(token).allowances
        if allowance:
            allowances[(owner, spender)] = allowance
        else:
            allowances.pop((owner, spender), None)


class NativeContract(ABC):
    """A contract devnet runs in Python: what getcontract shows of it and how a call runs.

    `call` runs against `ledger` without changing it (`commit` applies a successful outcome); `period` is the
    maintenance period the call executes in, which picks the dynamic energy factor.
    """

    address: bytes
    origin: bytes
    contract_name: str
    abi: list[dict]
    bytecode: bytes

    @abstractmethod
    def is_constant(self, data: bytes) -> bool:
        """Whether the call is a view: TronGrid's triggersmartcontract then runs it instead of building a tx."""

    @abstractmethod
    def call(self, ledger: Ledger, caller: bytes, data: bytes, call_value: int = 0, *, period: int = 0) -> CallOutcome:
        """Run the call against `ledger`; the outcome's writes are applied by `commit`, if it succeeded."""

    def energy_factor(self, period: int) -> int:
        """The dynamic energy factor in `period`, in 1/10,000 (0: the energy of the ENERGY table)."""
        return 0


class Revert(Exception):
    """A call reverts with Error(string) data carrying this message."""


def _encode_string(text: str) -> bytes:
    raw = text.encode()
    padded = raw + bytes(-len(raw) % 32)
    return encode_uint256(32) + encode_uint256(len(raw)) + padded


def revert_data(reason: str) -> bytes:
    return ERROR_SELECTOR + _encode_string(reason)


def function_abi(name: str, inputs: list[tuple[str, str]], outputs: list[str], mutability: str) -> dict:
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
    function_abi("name", [], ["string"], "View"),
    function_abi("symbol", [], ["string"], "View"),
    function_abi("decimals", [], ["uint8"], "View"),
    function_abi("totalSupply", [], ["uint256"], "View"),
    function_abi("balanceOf", [("who", "address")], ["uint256"], "View"),
    function_abi("allowance", [("owner", "address"), ("spender", "address")], ["uint256"], "View"),
    function_abi("transfer", [("to", "address"), ("value", "uint256")], ["bool"], "Nonpayable"),
    function_abi("approve", [("spender", "address"), ("value", "uint256")], ["bool"], "Nonpayable"),
    function_abi("transferFrom", [("from", "address"), ("to", "address"), ("value", "uint256")], ["bool"], "Nonpayable"),
    _event("Transfer", [("from", "address", True), ("to", "address", True), ("value", "uint256", False)]),
    _event("Approval", [("owner", "address", True), ("spender", "address", True), ("value", "uint256", False)]),
]

_VIEWS = {selector(s): s for s in ("name()", "symbol()", "decimals()", "totalSupply()", "balanceOf(address)",
                                   "allowance(address,address)")}
_WRITES = {selector(s): s for s in ("transfer(address,uint256)", "approve(address,uint256)",
                                    "transferFrom(address,address,uint256)")}


def scaled_energy(energy: int, factor: int) -> int:
    """`energy` under a dynamic energy factor of `factor` / 10,000 (java-tron rounds down)."""
    return energy * (10_000 + factor) // 10_000


class Trc20Token(NativeContract):
    """A TetherToken-like TRC20 at `address`; its book lives in a `Ledger`.

    energy_factors: the dynamic energy factor per maintenance period, in 1/10,000, cycling (empty: always 0).
    """

    contract_name = "TetherToken"

    def __init__(
        self,
        address: bytes,
        *,
        name: str,
        symbol: str,
        decimals: int,
        origin: bytes,
        energy_factors: Sequence[int] = (),
    ) -> None:
        self.address = address
        self.name = name
        self.symbol = symbol
        self.decimals = decimals
        self.origin = origin
        self.energy_factors = tuple(energy_factors)
        self.abi = TRC20_ABI
        # No EVM code runs; the bytecode field carries a marker so clients that read it get valid hex.
        self.bytecode = b"lucid-devnet native TRC20 " + symbol.encode()

    def is_constant(self, data: bytes) -> bool:
        return data[:4] in _VIEWS

    def energy_factor(self, period: int) -> int:
        return self.energy_factors[period % len(self.energy_factors)] if self.energy_factors else 0

    def call(self, ledger: Ledger, caller: bytes, data: bytes, call_value: int = 0, *, period: int = 0) -> CallOutcome:
        try:
            outcome = self._dispatch(ledger, caller, data, call_value)
        except Revert as revert:
            reason = str(revert)
            outcome = CallOutcome(energy=ENERGY.REVERT, reverted=True, output=revert_data(reason),
                                  revert_reason=reason)
        outcome.energy = scaled_energy(outcome.energy, self.energy_factor(period))
        return outcome

    def balance_of(self, ledger: Ledger, holder: bytes) -> int:
        return ledger.token_balance(self.address, holder)

    def _book(self, ledger: Ledger) -> TokenBook:
        """This token's book in `ledger`, for reading (a call writes only through its outcome)."""
        return ledger.tokens.get(self.address) or TokenBook()

    def mint(self, ledger: Ledger, holder: bytes, amount: int) -> None:
        """Credit `amount` base units out of band (genesis and /devnet/fund): no event, the supply grows."""
        book = ledger.book(self.address)
        book.balances[holder] = book.balances.get(holder, 0) + amount
        book.total_supply += amount

    # -- dispatch --------------------------------------------------------------------------------------------

    def _dispatch(self, ledger: Ledger, caller: bytes, data: bytes, call_value: int) -> CallOutcome:
        signature = _VIEWS.get(data[:4]) or _WRITES.get(data[:4])
        if signature is None:
            raise Revert(f"function selector {data[:4].hex() or '(none)'} is not a function of this contract")
        if call_value:
            raise Revert(f"{signature} is not payable")
        args = data[4:]
        if signature in _VIEWS.values():
            return CallOutcome(energy=ENERGY.VIEW, reverted=False, output=self._view(ledger, signature, args))
        if signature == "transfer(address,uint256)":
            to, value = address_arg(args, 0), uint_arg(args, 1)
            outcome = self._transfer(ledger, caller, to, value, spender=None)
            outcome.output = bytes(32)  # TetherToken's transfer returns false on success
            return outcome
        if signature == "approve(address,uint256)":
            spender, value = address_arg(args, 0), uint_arg(args, 1)
            return self._approve(ledger, caller, spender, value)
        sender, to, value = address_arg(args, 0), address_arg(args, 1), uint_arg(args, 2)
        return self._transfer(ledger, sender, to, value, spender=caller)

    def _view(self, ledger: Ledger, signature: str, args: bytes) -> bytes:
        if signature == "name()":
            return _encode_string(self.name)
        if signature == "symbol()":
            return _encode_string(self.symbol)
        if signature == "decimals()":
            return encode_uint256(self.decimals)
        if signature == "totalSupply()":
            return encode_uint256(self._book(ledger).total_supply)
        if signature == "balanceOf(address)":
            return encode_uint256(self.balance_of(ledger, address_arg(args, 0)))
        owner, spender = address_arg(args, 0), address_arg(args, 1)
        return encode_uint256(self._book(ledger).allowances.get((owner, spender), 0))

    def _transfer(self, ledger: Ledger, sender: bytes, to: bytes, value: int, *, spender: bytes | None) -> CallOutcome:
        book = self._book(ledger)
        sender_balance = book.balances.get(sender, 0)
        if value > sender_balance:
            raise Revert("transfer amount exceeds balance")
        outcome = CallOutcome(energy=0, reverted=False, output=encode_bool(True))
        if spender is not None:
            allowance = book.allowances.get((sender, spender), 0)
            if value > allowance:
                raise Revert("transfer amount exceeds allowance")
            outcome.allowances[(self.address, sender, spender)] = allowance - value
            outcome.energy += ENERGY.TRANSFER_FROM_SURCHARGE
        to_balance = book.balances.get(to, 0)
        outcome.energy += ENERGY.TRANSFER_TO_HOLDER if to_balance or to == sender else ENERGY.TRANSFER_TO_NEW_HOLDER
        outcome.balances[(self.address, sender)] = sender_balance - value
        outcome.balances[(self.address, to)] = outcome.balances.get((self.address, to), to_balance) + value
        outcome.logs.append(self._log(TRANSFER_EVENT_TOPIC, sender, to, value))
        return outcome

    def _approve(self, ledger: Ledger, owner: bytes, spender: bytes, value: int) -> CallOutcome:
        current = self._book(ledger).allowances.get((owner, spender), 0)
        energy = ENERGY.APPROVE_FROM_NONZERO if current else ENERGY.APPROVE_FROM_ZERO
        outcome = CallOutcome(energy=energy, reverted=False, output=encode_bool(True))
        outcome.allowances[(self.address, owner, spender)] = value
        outcome.logs.append(self._log(APPROVAL_EVENT_TOPIC, owner, spender, value))
        return outcome

    def _log(self, topic: bytes, first: bytes, second: bytes, value: int) -> Log:
        return Log(
            address=self.address,
            topics=(topic, address_word(first), address_word(second)),
            data=encode_uint256(value),
        )


def _word(args: bytes, index: int) -> bytes:
    word = args[32 * index : 32 * index + 32]
    if len(word) != 32:
        raise Revert(f"call data is too short for argument {index}")
    return word


def address_word(address: bytes) -> bytes:
    """A 21-byte TRON address as an ABI word: its 20 bytes after the 0x41 prefix, left-padded with zeros."""
    return bytes(12) + address[1:]


def address_arg(args: bytes, index: int) -> bytes:
    """The address argument at `index`, masked to the word's low 20 bytes as Solidity's `address` type does
    (mainnet USDT moves tokens to the masked address even when the high 12 bytes are not zero)."""
    return b"\x41" + _word(args, index)[12:]


def uint_arg(args: bytes, index: int) -> int:
    return decode_uint256(_word(args, index))

"""The world state of devnet: accounts, the books of its TRC20 tokens and Stake 2.0 delegations.

A `Ledger` is copied once per block (the snapshot that a reorg goes back to) and once per pending
transaction, so copies are cheap: dictionaries are copied shallowly and an `Account` is copied only when
a ledger that does not own it yet changes it (`account_mut`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

__all__ = ["Account", "Delegation", "Ledger", "TokenBook", "Unfreezing", "BANDWIDTH", "ENERGY"]

BANDWIDTH = "BANDWIDTH"
ENERGY = "ENERGY"

# Usage of bandwidth and energy recovers linearly over 24 h, counted in TRON's 3 s slots as java-tron does.
SLOT_MS = 3_000
RESOURCE_WINDOW_SLOTS = 28_800


def recovered_usage(usage: int, last_ms: int, now_ms: int) -> int:
    """Usage left at `now_ms` of `usage` recorded at `last_ms`, recovering linearly over 28,800 slots (24 h)."""
    elapsed = max(0, now_ms // SLOT_MS - last_ms // SLOT_MS)
    if usage <= 0 or elapsed >= RESOURCE_WINDOW_SLOTS:
        return 0
    return (usage * (RESOURCE_WINDOW_SLOTS - elapsed) + RESOURCE_WINDOW_SLOTS // 2) // RESOURCE_WINDOW_SLOTS


@dataclass(frozen=True)
class Unfreezing:
    """An unstake waiting for its delay: `amount` SUN of `resource` withdrawable at `expire_time_ms`."""

    resource: str
    amount: int
    expire_time_ms: int


@dataclass
class Account:
    """An activated TRON account. Amounts in SUN; times in ms of chain time."""

    address: bytes
    create_time: int
    balance: int = 0
    is_contract: bool = False
    latest_operation_time: int = 0
    # Bandwidth: the free 600/day and the staked part.
    free_net_usage: int = 0
    latest_consume_free_time: int = 0
    net_usage: int = 0
    latest_consume_time: int = 0
    # Energy from staking.
    energy_usage: int = 0
    latest_consume_time_for_energy: int = 0
    # Stake 2.0, per resource: own stake not delegated, delegated out, delegated in.
    frozen: dict[str, int] = field(default_factory=lambda: {BANDWIDTH: 0, ENERGY: 0})
    delegated_out: dict[str, int] = field(default_factory=lambda: {BANDWIDTH: 0, ENERGY: 0})
    acquired: dict[str, int] = field(default_factory=lambda: {BANDWIDTH: 0, ENERGY: 0})
    unfreezing: list[Unfreezing] = field(default_factory=list)

    def clone(self) -> Account:
        twin = copy.copy(self)
        twin.frozen = dict(self.frozen)
        twin.delegated_out = dict(self.delegated_out)
        twin.acquired = dict(self.acquired)
        twin.unfreezing = list(self.unfreezing)
        return twin

    def staked_for(self, resource: str) -> int:
        """SUN that give this account `resource`: its own stake plus what others delegated to it."""
        return self.frozen[resource] + self.acquired[resource]


@dataclass(frozen=True)
class Delegation:
    """Resources `sender` delegated to `receiver`; java-tron keeps a locked and an unlocked record per pair."""

    sender: bytes
    receiver: bytes
    locked: bool
    bandwidth: int = 0
    energy: int = 0
    bandwidth_expire_ms: int = 0
    energy_expire_ms: int = 0

    def amount(self, resource: str) -> int:
        return self.bandwidth if resource == BANDWIDTH else self.energy

    def expire_ms(self, resource: str) -> int:
        return self.bandwidth_expire_ms if resource == BANDWIDTH else self.energy_expire_ms

    def with_amount(self, resource: str, amount: int, expire_ms: int | None = None) -> Delegation:
        """This record with `amount` of `resource` (and its lock ending at `expire_ms`, if given)."""
        expire = self.expire_ms(resource) if expire_ms is None else expire_ms
        if resource == BANDWIDTH:
            return replace(self, bandwidth=amount, bandwidth_expire_ms=expire)
        return replace(self, energy=amount, energy_expire_ms=expire)

    @property
    def empty(self) -> bool:
        return self.bandwidth == 0 and self.energy == 0


@dataclass
class TokenBook:
    """The storage of one TRC20 contract: balances, allowances (owner, spender) and the total supply."""

    balances: dict[bytes, int] = field(default_factory=dict)
    allowances: dict[tuple[bytes, bytes], int] = field(default_factory=dict)
    total_supply: int = 0

    def copy(self) -> TokenBook:
        return TokenBook(dict(self.balances), dict(self.allowances), self.total_supply)


class Ledger:
    """Accounts, token books, delegations. Copy with `copy()`; change accounts via `account_mut`."""

    def __init__(self) -> None:
        self.accounts: dict[bytes, Account] = {}
        self.tokens: dict[bytes, TokenBook] = {}
        self.delegations: dict[tuple[bytes, bytes, bool], Delegation] = {}
        self._owned: set[bytes] = set()

    def copy(self) -> Ledger:
        twin = Ledger()
        twin.accounts = dict(self.accounts)
        twin.tokens = {address: book.copy() for address, book in self.tokens.items()}
        twin.delegations = dict(self.delegations)
        # Both ledgers now share every Account object: neither may change one in place any more.
        self._owned = set()
        return twin

    def book(self, token: bytes) -> TokenBook:
        """The book of the TRC20 contract at `token` (empty until the contract first writes)."""
        return self.tokens.setdefault(token, TokenBook())

    def token_balance(self, token: bytes, holder: bytes) -> int:
        book = self.tokens.get(token)
        return book.balances.get(holder, 0) if book else 0

    def account(self, address: bytes) -> Account | None:
        return self.accounts.get(address)

    def account_mut(self, address: bytes) -> Account:
        """The account at `address`, owned by this ledger so it may be changed in place. It must exist."""
        account = self.accounts[address]
        if address not in self._owned:
            account = account.clone()
            self.accounts[address] = account
            self._owned.add(address)
        return account

    def create_account(self, address: bytes, now_ms: int, *, is_contract: bool = False) -> Account:
        account = Account(address=address, create_time=now_ms, is_contract=is_contract)
        self.accounts[address] = account
        self._owned.add(address)
        return account

    def total_staked_trx(self, resource: str) -> int:
        """Whole TRX staked for `resource` on devnet, delegated or not (what TotalEnergyWeight counts)."""
        sun = sum(a.frozen[resource] + a.delegated_out[resource] for a in self.accounts.values())
        return sun // 1_000_000

    def delegations_of(self, sender: bytes, receiver: bytes) -> list[Delegation]:
        return [d for locked in (False, True) if (d := self.delegations.get((sender, receiver, locked)))]

    def put_delegation(self, delegation: Delegation) -> None:
        key = (delegation.sender, delegation.receiver, delegation.locked)
        if delegation.empty:
            self.delegations.pop(key, None)
        else:
            self.delegations[key] = delegation

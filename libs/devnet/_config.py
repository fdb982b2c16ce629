"""Devnet configuration: block timing, funded accounts, resource prices, determinism."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from lucid_tron.chain import InvalidAddress, decode_address

__all__ = ["DevnetConfig", "FundedAccount", "ResourcePrices", "parse_fund_spec"]

# TRON's own numbers (chain parameters on mainnet); see notes/tron-facts.md.
SUN_PER_BANDWIDTH_POINT = 1_000
SUN_PER_ENERGY = 100
FREE_BANDWIDTH_PER_DAY = 600
CREATE_ACCOUNT_FEE_SUN = 100_000  # getCreateAccountFee: paid for the new-account bandwidth when not staked
CREATE_NEW_ACCOUNT_FEE_IN_SYSTEM_CONTRACT_SUN = 1_000_000  # getCreateNewAccountFeeInSystemContract
MEMO_FEE_SUN = 1_000_000  # getMemoFee (TIP-387)
MAX_FEE_LIMIT_SUN = 15_000_000_000


@dataclass(frozen=True)
class FundedAccount:
    """An account that exists at genesis with `trx_sun` SUN and `usdt_units` USDT base units."""

    address: str
    trx_sun: int = 0
    usdt_units: int = 0

    def __post_init__(self) -> None:
        decode_address(self.address)  # raises InvalidAddress early, at construction
        if not isinstance(self.trx_sun, int) or isinstance(self.trx_sun, bool) or self.trx_sun < 0:
            raise ValueError(f"trx_sun must be a non-negative int, got {self.trx_sun!r}")
        if not isinstance(self.usdt_units, int) or isinstance(self.usdt_units, bool) or self.usdt_units < 0:
            raise ValueError(f"usdt_units must be a non-negative int, got {self.usdt_units!r}")


@dataclass(frozen=True)
class ResourcePrices:
    """Fees and the network-wide resource totals that turn staked TRX into energy and bandwidth.

    The totals stand for the rest of the network: `base_energy_weight_trx` is the TRX staked for energy
    by everyone else, so devnet's own stakes move TotalEnergyWeight only a little, as on mainnet.
    The defaults give 10 energy and 1 bandwidth point per staked TRX.
    """

    sun_per_energy: int = SUN_PER_ENERGY
    sun_per_bandwidth_point: int = SUN_PER_BANDWIDTH_POINT
    free_bandwidth_per_day: int = FREE_BANDWIDTH_PER_DAY
    create_account_fee_sun: int = CREATE_ACCOUNT_FEE_SUN
    create_new_account_fee_in_system_contract_sun: int = CREATE_NEW_ACCOUNT_FEE_IN_SYSTEM_CONTRACT_SUN
    memo_fee_sun: int = MEMO_FEE_SUN
    max_fee_limit_sun: int = MAX_FEE_LIMIT_SUN
    total_energy_limit: int = 90_000_000_000
    base_energy_weight_trx: int = 9_000_000_000
    total_net_limit: int = 43_200_000_000
    base_net_weight_trx: int = 43_200_000_000


@dataclass(frozen=True)
class DevnetConfig:
    """Everything that shapes a devnet. Same config, same genesis, same USDT address.

    block_interval: seconds between blocks; 0 means manual mode (blocks only from `produce_block`).
    solidification_lag: a block is solidified once this many blocks sit on top of it (TRON: 19).
    funded: accounts credited at genesis.
    usdt_address: the TRC20 USDT contract address; None derives one from `seed`.
    seed: the root of every deterministic choice (witness key, USDT address, genesis parent hash).
    unfreeze_delay_s: how long unstaked TRX waits before withdrawexpireunfreeze (mainnet: 14 days).
    genesis_timestamp_ms: timestamp of block 0 (fixed so the genesis block id is deterministic).
    fault_seed: seed of the random draws of fault injection, so a run with faults repeats.
    reorg_requeue: whether `reorg` puts the taken-out transactions back in the pending pool (java-tron's fork
        switch does; they land again at another height) or drops and forgets them (False).
    usdt_energy_factors: USDT's dynamic energy factor per maintenance period, in 1/10,000 of the ENERGY table
        (5000: +50%), cycling; empty means always 0.
    maintenance_period_blocks: blocks per maintenance period (mainnet: 6 h, 7,200 blocks).
    """

    block_interval: float = 3.0
    solidification_lag: int = 19
    funded: tuple[FundedAccount, ...] = ()
    usdt_address: str | None = None
    seed: str = "lucid-devnet"
    unfreeze_delay_s: float = 60.0
    genesis_timestamp_ms: int = 0
    prices: ResourcePrices = field(default_factory=ResourcePrices)
    fault_seed: int = 0
    reorg_requeue: bool = True
    usdt_energy_factors: tuple[int, ...] = ()
    maintenance_period_blocks: int = 7_200

    def __post_init__(self) -> None:
        if self.block_interval < 0:
            raise ValueError("block_interval must be >= 0 (0 = manual block production)")
        if self.solidification_lag < 0:
            raise ValueError("solidification_lag must be >= 0")
        if self.unfreeze_delay_s < 0:
            raise ValueError("unfreeze_delay_s must be >= 0")
        if self.maintenance_period_blocks < 1:
            raise ValueError("maintenance_period_blocks must be >= 1")
        object.__setattr__(self, "funded", tuple(self.funded))
        object.__setattr__(self, "usdt_energy_factors", tuple(self.usdt_energy_factors))
        if any(not -10_000 < factor <= 1_000_000 for factor in self.usdt_energy_factors):
            raise ValueError("usdt_energy_factors must each be above -10000 and at most 1000000 (1/10,000 units)")
        if self.usdt_address is not None:
            decode_address(self.usdt_address)

    @property
    def manual(self) -> bool:
        """True when blocks are produced only on request."""
        return self.block_interval == 0

    def seed_bytes(self, purpose: str) -> bytes:
        """A 32-byte value derived from the seed for one purpose; the same config gives the same bytes."""
        return hashlib.sha256(f"lucid-devnet/{purpose}/{self.seed}".encode()).digest()


def parse_fund_spec(spec: str) -> FundedAccount:
    """Parse `ADDRESS:TRX_SUN:USDT_UNITS` (the last two optional, default 0) as given to `--fund`."""
    parts = spec.split(":")
    if not 1 <= len(parts) <= 3 or not parts[0]:
        raise ValueError(f"expected ADDRESS:TRX_SUN:USDT_UNITS, got {spec!r}")
    try:
        amounts = [int(part) if part else 0 for part in parts[1:]]
    except ValueError:
        raise ValueError(f"amounts must be integers (SUN and USDT base units), got {spec!r}") from None
    amounts += [0] * (2 - len(amounts))
    try:
        return FundedAccount(parts[0], trx_sun=amounts[0], usdt_units=amounts[1])
    except InvalidAddress as exc:
        raise ValueError(f"invalid address in {spec!r}: {exc}") from None

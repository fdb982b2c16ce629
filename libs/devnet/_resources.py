"""Energy and bandwidth from staked TRX, simplified from java-tron's EnergyProcessor and BandwidthProcessor.

limit = staked TRX (own stake + delegated in) * TotalLimit / TotalWeight, TotalWeight = the rest of the network
(a constant of the config) + what devnet accounts stake. Usage recovers linearly over 24 h of chain time.
"""

from __future__ import annotations

from ._config import ResourcePrices
from ._ledger import BANDWIDTH, ENERGY, Account, Ledger, recovered_usage

__all__ = [
    "available_energy",
    "available_free_net",
    "available_staked_net",
    "can_delegate_max",
    "energy_limit",
    "net_limit",
    "total_energy_weight",
    "total_net_weight",
]

SUN_PER_TRX = 1_000_000


def total_energy_weight(ledger: Ledger, prices: ResourcePrices) -> int:
    return prices.base_energy_weight_trx + ledger.total_staked_trx(ENERGY)


def total_net_weight(ledger: Ledger, prices: ResourcePrices) -> int:
    return prices.base_net_weight_trx + ledger.total_staked_trx(BANDWIDTH)


def energy_limit(ledger: Ledger, account: Account, prices: ResourcePrices) -> int:
    weight = total_energy_weight(ledger, prices)
    return account.staked_for(ENERGY) // SUN_PER_TRX * prices.total_energy_limit // weight if weight else 0


def net_limit(ledger: Ledger, account: Account, prices: ResourcePrices) -> int:
    weight = total_net_weight(ledger, prices)
    return account.staked_for(BANDWIDTH) // SUN_PER_TRX * prices.total_net_limit // weight if weight else 0


def energy_used(account: Account, now_ms: int) -> int:
    return recovered_usage(account.energy_usage, account.latest_consume_time_for_energy, now_ms)


def net_used(account: Account, now_ms: int) -> int:
    return recovered_usage(account.net_usage, account.latest_consume_time, now_ms)


def free_net_used(account: Account, now_ms: int) -> int:
    return recovered_usage(account.free_net_usage, account.latest_consume_free_time, now_ms)


def available_energy(ledger: Ledger, account: Account, prices: ResourcePrices, now_ms: int) -> int:
    return max(0, energy_limit(ledger, account, prices) - energy_used(account, now_ms))


def available_staked_net(ledger: Ledger, account: Account, prices: ResourcePrices, now_ms: int) -> int:
    return max(0, net_limit(ledger, account, prices) - net_used(account, now_ms))


def available_free_net(account: Account, prices: ResourcePrices, now_ms: int) -> int:
    return max(0, prices.free_bandwidth_per_day - free_net_used(account, now_ms))


def can_delegate_max(ledger: Ledger, account: Account, resource: str, prices: ResourcePrices, now_ms: int) -> int:
    """SUN of own stake that can still be delegated: the stake minus the part that backs resource already used.

    As java-tron does, usage is first attributed to what others delegated to this account.
    """
    if resource == ENERGY:
        used, limit = energy_used(account, now_ms), prices.total_energy_limit
        weight = total_energy_weight(ledger, prices)
    else:
        used, limit = net_used(account, now_ms), prices.total_net_limit
        weight = total_net_weight(ledger, prices)
    used_sun = used * SUN_PER_TRX * weight // limit if limit else 0
    own_used_sun = max(0, used_sun - account.acquired[resource])
    return max(0, account.frozen[resource] - own_used_sun)

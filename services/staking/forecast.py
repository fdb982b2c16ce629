"""Forecasts of an account's energy and bandwidth over the next 24 hours, what they pay for in USDT transfers, and how
much more TRX to stake for a target.

Pure functions, no I/O and no grpc. Usage recovers as java-tron recovers it: each time an account uses a resource,
the usage recorded before decays linearly over the 24 h window since it was recorded, then the new use is added.
The planned transfers are spread evenly over the 24 hours; what a transfer needs beyond the energy left then is
burned (the shortfall). Energy from a stake is stake x TotalEnergyLimit / TotalEnergyWeight, so a forecast moves
with the network totals: a forecast, not a promise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from lucid.tron.v1 import common_pb2
from lucid_tron.chain import SUN_PER_TRX
from lucid_tron.errors import FailedPrecondition

#: Energy of a USDT transfer to an address that holds USDT, and to one that does not (mainnet USDT at the time of
#: writing; devnet charges the same). The dynamic energy factor can raise both: the energy plans of the node keep a
#: margin, a forecast counts the figures as they are.
TRANSFER_ENERGY_TO_HOLDER = 64_285
TRANSFER_ENERGY_TO_NEW_HOLDER = 130_285
#: Bandwidth points of a USDT transfer.
TRANSFER_BANDWIDTH = 345
WINDOW_MS = 86_400_000
HOURS = 24
_HOUR_MS = 3_600_000

TARGET_UNREACHABLE = "TARGET_UNREACHABLE"


@dataclass(frozen=True)
class Point:
    """Energy and bandwidth available at `time_ms`."""

    time_ms: int
    energy_available: int
    bandwidth_available: int


@dataclass(frozen=True)
class Forecast:
    energy_per_day: int
    bandwidth_per_day: int
    energy_per_transfer_to_holder: int
    energy_per_transfer_to_new_holder: int
    usdt_transfers_to_holders_per_day: int
    usdt_transfers_to_new_holders_per_day: int
    stake_needed_sun: int
    daily_burn_without_stake_sun: int
    hourly: tuple[Point, ...]
    planned_usdt_transfers: int
    energy_shortfall: int


class PlannedTransfers:
    """The USDT transfers the node already knows an address will send (or lend energy for) in the next 24 hours:
    the sum over its sources, each `source(address) -> count` (the treasury's open sweeps, for the staking wallet)."""

    def __init__(self) -> None:
        self._sources: list[Callable[[str], Awaitable[int]]] = []

    def add(self, source: Callable[[str], Awaitable[int]]) -> None:
        self._sources.append(source)

    async def __call__(self, address: str) -> int:
        return sum([await source(address) for source in self._sources])


def energy_of_stake(stake_sun: int, total_energy_limit: int, total_energy_weight: int) -> int:
    """Energy per day that `stake_sun` more SUN staked for energy gives, the stake counted in the network's weight
    (whole TRX, as TRON counts it)."""
    trx = stake_sun // SUN_PER_TRX
    if trx <= 0:
        return 0
    return trx * total_energy_limit // (total_energy_weight + trx)


def stake_for_energy(energy: int, total_energy_limit: int, total_energy_weight: int) -> int:
    """The least SUN (whole TRX) to stake for `energy` more energy per day; FailedPrecondition (TARGET_UNREACHABLE)
    when the whole network's energy would not cover it."""
    if energy <= 0:
        return 0
    if energy >= total_energy_limit:
        raise FailedPrecondition(
            f"{energy} more energy a day is at least the whole network's ({total_energy_limit}); no stake covers it",
            reason=TARGET_UNREACHABLE,
            subject="target_usdt_transfers_per_day",
        )
    trx = -(-energy * total_energy_weight // (total_energy_limit - energy))
    while energy_of_stake(trx * SUN_PER_TRX, total_energy_limit, total_energy_weight) < energy:
        trx += 1  # the floor divisions of TRON's formula
    return trx * SUN_PER_TRX


def forecast(
    resources: common_pb2.AccountResources,
    *,
    now_ms: int,
    energy_price_sun: int,
    additional_energy_stake_sun: int = 0,
    target_usdt_transfers_per_day: int = 0,
    planned_usdt_transfers: int = 0,
) -> Forecast:
    """The next 24 hours of an account with `resources`, given the hypothetical extra stake, the target and the
    planned USDT transfers (to existing holders)."""
    extra = energy_of_stake(
        additional_energy_stake_sun, resources.total_energy_limit, resources.total_energy_weight
    )
    energy_per_day = resources.energy_limit + extra
    bandwidth_per_day = resources.bandwidth_limit + resources.free_bandwidth_limit
    times = [now_ms + hour * _HOUR_MS for hour in range(HOURS + 1)]
    count = planned_usdt_transfers
    transfers = [now_ms + (2 * i + 1) * WINDOW_MS // (2 * count) for i in range(count)]
    energy, shortfall = _available(energy_per_day, resources.energy_used, now_ms, times, transfers,
                                   TRANSFER_ENERGY_TO_HOLDER)
    bandwidth, _ = _available(bandwidth_per_day, resources.bandwidth_used + resources.free_bandwidth_used, now_ms,
                              times, transfers, TRANSFER_BANDWIDTH)
    needed = target_usdt_transfers_per_day * TRANSFER_ENERGY_TO_HOLDER
    missing = max(0, needed - energy_per_day)
    return Forecast(
        energy_per_day=energy_per_day,
        bandwidth_per_day=bandwidth_per_day,
        energy_per_transfer_to_holder=TRANSFER_ENERGY_TO_HOLDER,
        energy_per_transfer_to_new_holder=TRANSFER_ENERGY_TO_NEW_HOLDER,
        usdt_transfers_to_holders_per_day=energy_per_day // TRANSFER_ENERGY_TO_HOLDER,
        usdt_transfers_to_new_holders_per_day=energy_per_day // TRANSFER_ENERGY_TO_NEW_HOLDER,
        stake_needed_sun=_stake_needed(missing, resources, additional_energy_stake_sun),
        daily_burn_without_stake_sun=missing * energy_price_sun,
        hourly=tuple(Point(t, e, b) for t, e, b in zip(times, energy, bandwidth)),
        planned_usdt_transfers=planned_usdt_transfers,
        energy_shortfall=shortfall,
    )


def _stake_needed(missing: int, resources: common_pb2.AccountResources, additional_sun: int) -> int:
    # The hypothetical stake already counts in the network's weight when the extra stake is added on top of it.
    weight = resources.total_energy_weight + additional_sun // SUN_PER_TRX
    return stake_for_energy(missing, resources.total_energy_limit, weight)


def _available(
    limit: int, used: int, now_ms: int, points: list[int], uses: list[int], per_use: int
) -> tuple[list[int], int]:
    """What is available at each of `points`, and how much of the `uses` (each `per_use`) the resource could not
    cover. A point at the time of a use shows what was there before it."""
    events = sorted([(t, 0) for t in points] + [(t, 1) for t in uses])
    available: list[int] = []
    shortfall = 0
    last = now_ms
    for at, is_use in events:
        # Reading does not record anything: only a use updates the usage and its time, as on the chain.
        now_used = _recovered(used, at - last)
        left = max(0, limit - now_used)
        if not is_use:
            available.append(left)
            continue
        taken = min(per_use, left)
        used, last = now_used + taken, at
        shortfall += per_use - taken
    return available, shortfall


def _recovered(used: int, elapsed_ms: int) -> int:
    """java-tron's recovery: usage decays linearly to 0 over the window."""
    if elapsed_ms >= WINDOW_MS:
        return 0
    return used * (WINDOW_MS - elapsed_ms) // WINDOW_MS

"""An account's resources as staking reads them from tron-client: limits and usage, stake, unstakes, delegations,
what can still be delegated or withdrawn, and what is available now.

Plain async Python, no grpc.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from lucid.tron.v1 import common_pb2, tron_client_pb2
from lucid_tron.peers import TronClientService

from .forecast import Forecast, forecast

#: TRON's resource names (as lucid_tron.chain builds them) by lucid.tron.v1.Resource number, and back.
RESOURCE_NAMES = {common_pb2.RESOURCE_BANDWIDTH: "BANDWIDTH", common_pb2.RESOURCE_ENERGY: "ENERGY"}
RESOURCE_NUMBERS = {name: number for number, name in RESOURCE_NAMES.items()}
#: Unstakes an account may have waiting at once (java-tron's UNFREEZE_MAX_TIMES).
MAX_PENDING_UNFREEZES = 32


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Resources:
    """One account's resources as of the head block; `pending` are the unstakes still waiting (withdrawable ones
    are counted in `withdrawable_sun`)."""

    account: common_pb2.AccountResources
    pending: tuple[common_pb2.PendingUnfreeze, ...]
    unfreezes: tuple[common_pb2.PendingUnfreeze, ...]
    delegations: tuple[common_pb2.Delegation, ...]
    delegatable_bandwidth_sun: int
    delegatable_energy_sun: int
    withdrawable_sun: int

    @property
    def energy_available(self) -> int:
        return max(0, self.account.energy_limit - self.account.energy_used)

    @property
    def bandwidth_available(self) -> int:
        staked = max(0, self.account.bandwidth_limit - self.account.bandwidth_used)
        return staked + max(0, self.account.free_bandwidth_limit - self.account.free_bandwidth_used)

    def undelegated_stake(self, resource: str) -> int:
        """SUN staked for `resource` and not delegated: what can be unstaked."""
        if resource == "ENERGY":
            return self.account.staked_for_energy_sun - self.account.delegated_energy_out_sun
        return self.account.staked_for_bandwidth_sun - self.account.delegated_bandwidth_out_sun

    def delegatable(self, resource: str) -> int:
        return self.delegatable_energy_sun if resource == "ENERGY" else self.delegatable_bandwidth_sun

    def delegated_to(self, receiver: str, resource: str) -> tuple[int, int]:
        """(all, unlocked at `now`) SUN of `resource` delegated to `receiver`."""
        records = [
            d for d in self.delegations
            if d.receiver_address == receiver and RESOURCE_NAMES.get(d.resource) == resource
        ]
        at = now_ms()
        unlocked = [
            d for d in records if not d.HasField("lock_expire_time") or d.lock_expire_time.ToMilliseconds() <= at
        ]
        return sum(d.amount_sun for d in records), sum(d.amount_sun for d in unlocked)


class ResourceReader:
    """Reads accounts, resources and chain parameters through tron-client, at head."""

    def __init__(self, tron_client: TronClientService) -> None:
        self._tron_client = tron_client

    async def resources(self, address: str) -> Resources:
        account, stake = await asyncio.gather(
            self._tron_client.rpc.GetAccountResources(tron_client_pb2.GetAccountResourcesRequest(address=address)),
            self._tron_client.rpc.GetStake(tron_client_pb2.GetStakeRequest(address=address)),
        )
        at = now_ms()
        return Resources(
            account=account.resources,
            pending=tuple(u for u in stake.unfreezes if u.withdrawable_time.ToMilliseconds() > at),
            unfreezes=tuple(stake.unfreezes),
            delegations=tuple(stake.delegations),
            delegatable_bandwidth_sun=stake.delegatable_bandwidth_sun,
            delegatable_energy_sun=stake.delegatable_energy_sun,
            withdrawable_sun=stake.withdrawable_sun,
        )

    async def forecast(
        self, address: str, *, additional_energy_stake_sun: int, target_usdt_transfers_per_day: int,
        planned_usdt_transfers: int,
    ) -> Forecast:
        """The next 24 hours of the account (see `forecast`), from its resources and the energy price now."""
        answer, parameters = await asyncio.gather(
            self._tron_client.rpc.GetAccountResources(tron_client_pb2.GetAccountResourcesRequest(address=address)),
            self.chain_parameters(),
        )
        return forecast(
            answer.resources,
            now_ms=now_ms(),
            energy_price_sun=parameters.energy_price_sun,
            additional_energy_stake_sun=additional_energy_stake_sun,
            target_usdt_transfers_per_day=target_usdt_transfers_per_day,
            planned_usdt_transfers=planned_usdt_transfers,
        )

    async def account(self, address: str) -> common_pb2.Account:
        """The account at head (pending transactions included, as a full node reads)."""
        answer = await self._tron_client.rpc.GetAccount(
            tron_client_pb2.GetAccountRequest(address=address, finality=common_pb2.FINALITY_HEAD)
        )
        return answer.account

    async def chain_parameters(self) -> tron_client_pb2.GetChainParametersResponse:
        return await self._tron_client.rpc.GetChainParameters(tron_client_pb2.GetChainParametersRequest())

"""What a USDT transfer would cost, and the fee limit usdt-manager puts on a write.

A transfer's energy depends on the recipient: about 64,285 units to an address that already holds USDT and about
130,285 to one that does not (the contract writes a new storage slot), times the contract's dynamic energy factor.
The node's own estimate (estimateenergy) is used whenever it can run the call; when it cannot (the sender lacks the
USDT, so the call would revert) the typical figure for the recipient's class stands in, and the answer says so.

Whether the recipient is activated is reported and never changed: a transfer to an address that has no account
lands, but the recipient cannot move the USDT until someone sends it TRX. Activating it is a separate, explicit
TRX transfer, never a side effect of paying someone.

The fee limit caps the TRX a call may burn for all of its energy (TRON counts staked energy against it too), so it
is sized from the energy required at the current price plus a margin (dynamic energy can rise between estimate
and execution, and a call that runs out of energy fails and still burns), and capped by FEE_LIMIT_CAP_SUN.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from lucid.tron.v1 import common_pb2, tron_client_pb2
from lucid_tron.config import Settings, setting
from lucid_tron.errors import FailedPrecondition
from lucid_tron.peers import TronClientService

from .contract import TRANSFER, UsdtContract, sample_transfer_bandwidth

TYPICAL_ENERGY_TO_HOLDER = 64_285
TYPICAL_ENERGY_TO_NEW_HOLDER = 130_285

RECIPIENT_NOT_ACTIVATED = "RECIPIENT_NOT_ACTIVATED"
USDT_BALANCE_INSUFFICIENT = "USDT_BALANCE_INSUFFICIENT"
TRX_BALANCE_INSUFFICIENT = "TRX_BALANCE_INSUFFICIENT"
FEE_LIMIT_CAP_TOO_LOW = "FEE_LIMIT_CAP_TOO_LOW"
FEE_LIMIT_BELOW_ESTIMATE = "FEE_LIMIT_BELOW_ESTIMATE"

_HEAD = common_pb2.FINALITY_HEAD


@dataclass(frozen=True, kw_only=True)
class FeePolicySettings(Settings):
    """FEE_LIMIT_CAP_SUN: the most any transaction usdt-manager builds may burn (default 50 TRX, under mainnet's
    15,000 TRX ceiling; a USDT transfer to a new holder burns about 13 TRX without staked energy).
    FEE_LIMIT_MARGIN_PERCENT: how far above the estimate the default fee limit goes (default 30 %).
    TRANSACTION_LIFETIME_S: how long a built transaction stays valid (default 120 s; TRON allows up to 24 h)."""

    fee_limit_cap_sun: int = setting("FEE_LIMIT_CAP_SUN", default=50_000_000, ge=1, le=15_000_000_000)
    fee_limit_margin_percent: int = setting("FEE_LIMIT_MARGIN_PERCENT", default=30, ge=0, le=1000)
    transaction_lifetime_s: float = setting("TRANSACTION_LIFETIME_S", default=120.0, ge=10, le=86_400)


@dataclass(frozen=True)
class FeePolicy:
    cap_sun: int
    margin_percent: int

    def fee_limit_for(self, energy: int, energy_price_sun: int) -> int:
        """The fee limit that covers `energy` at the price with the margin, before the cap (rounded up)."""
        return -(-energy * energy_price_sun * (100 + self.margin_percent) // 100)


@dataclass(frozen=True)
class Estimate:
    energy_required: int
    bandwidth_required: int
    recipient_holds_usdt: bool
    recipient_activated: bool
    energy_available: int
    bandwidth_available: int
    burn_fee_sun: int
    #: The energy at the current price, no margin: a fee limit below it runs out of energy.
    energy_cost_sun: int
    #: The default fee limit before the cap; above the cap means FEE_LIMIT_CAP_TOO_LOW.
    needed_fee_limit_sun: int
    suggested_fee_limit_sun: int
    fee_limit_cap_sun: int
    estimated_by_node: bool
    sender_usdt_base_units: int
    sender_trx_sun: int
    energy_price_sun: int
    warnings: tuple[str, ...]


class Estimator:
    """Estimates transfers of `contract` through tron-client, under `policy`."""

    def __init__(self, tron_client: TronClientService, contract: UsdtContract, policy: FeePolicy) -> None:
        self._tron_client = tron_client
        self._contract = contract
        self.policy = policy

    async def transfer(self, sender: str, recipient: str, amount: int) -> Estimate:
        """The cost of sending `amount` from `sender` to `recipient` now (head view), and the reasons Transfer
        would refuse it (`warnings`)."""
        rpc = self._tron_client.rpc
        sender_usdt, recipient_usdt, sender_account, recipient_account, resources, parameters = await asyncio.gather(
            self._contract.balance_of(sender, _HEAD),
            self._contract.balance_of(recipient, _HEAD),
            rpc.GetAccount(tron_client_pb2.GetAccountRequest(address=sender, finality=_HEAD)),
            rpc.GetAccount(tron_client_pb2.GetAccountRequest(address=recipient, finality=_HEAD)),
            rpc.GetAccountResources(tron_client_pb2.GetAccountResourcesRequest(address=sender)),
            rpc.GetChainParameters(tron_client_pb2.GetChainParametersRequest()),
        )
        holds = recipient_usdt > 0
        energy, by_node = await self._transfer_energy(sender, recipient, amount, holds, enough=sender_usdt >= amount)
        res = resources.resources
        energy_available = max(res.energy_limit - res.energy_used, 0)
        free_bandwidth = max(res.free_bandwidth_limit - res.free_bandwidth_used, 0)
        staked_bandwidth = max(res.bandwidth_limit - res.bandwidth_used, 0)
        policy = self.policy
        needed = policy.fee_limit_for(energy, parameters.energy_price_sun)
        suggested = min(needed, policy.cap_sun)
        bandwidth = sample_transfer_bandwidth(sender, self._contract.address, recipient, amount, suggested)
        # TRON takes a transaction's bandwidth from staked, else free bandwidth, whole; only when neither covers
        # it does it burn TRX for all of it.
        bandwidth_burn = 0 if max(free_bandwidth, staked_bandwidth) >= bandwidth else bandwidth * parameters.bandwidth_price_sun
        burn = max(energy - energy_available, 0) * parameters.energy_price_sun + bandwidth_burn
        trx = sender_account.account.balance_sun
        warnings = []
        if not recipient_account.account.activated:
            warnings.append(RECIPIENT_NOT_ACTIVATED)
        if sender_usdt < amount:
            warnings.append(USDT_BALANCE_INSUFFICIENT)
        if trx < burn:
            warnings.append(TRX_BALANCE_INSUFFICIENT)
        if needed > policy.cap_sun:
            warnings.append(FEE_LIMIT_CAP_TOO_LOW)
        return Estimate(
            energy_required=energy,
            bandwidth_required=bandwidth,
            recipient_holds_usdt=holds,
            recipient_activated=recipient_account.account.activated,
            energy_available=energy_available,
            bandwidth_available=free_bandwidth + staked_bandwidth,
            burn_fee_sun=burn,
            energy_cost_sun=energy * parameters.energy_price_sun,
            needed_fee_limit_sun=needed,
            suggested_fee_limit_sun=suggested,
            fee_limit_cap_sun=policy.cap_sun,
            estimated_by_node=by_node,
            sender_usdt_base_units=sender_usdt,
            sender_trx_sun=trx,
            energy_price_sun=parameters.energy_price_sun,
            warnings=tuple(warnings),
        )

    async def _transfer_energy(
        self, sender: str, recipient: str, amount: int, holds: bool, *, enough: bool
    ) -> tuple[int, bool]:
        typical = TYPICAL_ENERGY_TO_HOLDER if holds else TYPICAL_ENERGY_TO_NEW_HOLDER
        if not enough:
            return typical, False
        call = self._contract.transfer_call(recipient, amount)
        try:
            return await self.call_energy(sender, TRANSFER, call[4:]), True
        except FailedPrecondition:
            # The node could not run it (e.g. the balance moved since it was read): the class figure stands in.
            return typical, False

    async def call_energy(self, owner: str, function: str, parameter: bytes) -> int:
        """The node's estimate of a call of the contract by `owner`; FailedPrecondition when it would revert."""
        answer = await self._tron_client.rpc.EstimateEnergy(
            tron_client_pb2.EstimateEnergyRequest(
                owner_address=owner,
                contract_address=self._contract.address,
                function_selector=function,
                parameter=parameter,
            )
        )
        return answer.energy_required

    async def energy_price_sun(self) -> int:
        parameters = await self._tron_client.rpc.GetChainParameters(tron_client_pb2.GetChainParametersRequest())
        return parameters.energy_price_sun

    def fee_limit(self, requested_sun: int, energy: int, energy_price_sun: int) -> int:
        """The fee limit of a write: `requested_sun` (already within the cap) when it covers the energy, else
        refused; 0 asks for the estimate plus the margin, refused when that exceeds the cap."""
        cost = energy * energy_price_sun
        if requested_sun:
            if requested_sun < cost:
                raise FailedPrecondition(
                    f"fee_limit_sun {requested_sun} is below the {cost} SUN of energy the call needs now "
                    f"({energy} energy at {energy_price_sun} SUN): it would run out of energy and still burn",
                    reason=FEE_LIMIT_BELOW_ESTIMATE,
                    subject="fee_limit_sun",
                )
            return requested_sun
        needed = self.policy.fee_limit_for(energy, energy_price_sun)
        if needed > self.policy.cap_sun:
            raise FailedPrecondition(
                f"the call needs a fee limit of {needed} SUN ({energy} energy at {energy_price_sun} SUN plus "
                f"{self.policy.margin_percent} %), above FEE_LIMIT_CAP_SUN {self.policy.cap_sun}",
                reason=FEE_LIMIT_CAP_TOO_LOW,
                subject="fee_limit_sun",
            )
        return needed

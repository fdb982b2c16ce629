"""Energy estimates priced at the chain's current energy price."""

from __future__ import annotations

from dataclasses import dataclass

from lucid_tron.errors import FailedPrecondition
from lucid_tron.trongrid import TronGridClient, TronGridNodeError, both, chain_parameters
from lucid_tron.trongrid import estimate_energy as energy_required

__all__ = ["EnergyEstimate", "estimate_energy"]


@dataclass(frozen=True)
class EnergyEstimate:
    energy_required: int
    #: SUN burned if the owner had no energy: energy_required x getEnergyFee.
    burn_fee_sun: int


async def estimate_energy(
    trongrid: TronGridClient,
    *,
    owner_address: str,
    contract_address: str,
    function_selector: str,
    parameter: bytes,
    call_value_sun: int,
) -> EnergyEstimate:
    """The estimate and the energy price, asked concurrently. A call the node says would fail (a revert, a
    contract that does not exist) is FailedPrecondition with TRON's code as the reason."""
    try:
        energy, parameters = await both(
            energy_required(
                trongrid,
                owner_address=owner_address,
                contract_address=contract_address,
                function_selector=function_selector,
                parameter=parameter,
                call_value_sun=call_value_sun,
            ),
            chain_parameters(trongrid),
        )
    except TronGridNodeError as refusal:
        code = refusal.code or "NODE_REFUSED"
        raise FailedPrecondition(
            f"the TRON node cannot estimate this call: {code}: {refusal.node_message}",
            reason=code,
            subject=contract_address,
        ) from refusal
    return EnergyEstimate(energy_required=energy, burn_fee_sun=energy * parameters.energy_price_sun)

"""The TRON settings group that money services share: which contract is USDT on the network in use."""

from __future__ import annotations

from dataclasses import dataclass

from lucid_tron.config import Settings, setting

from ._address import is_address

__all__ = ["UsdtContractSettings"]


@dataclass(frozen=True, kw_only=True)
class UsdtContractSettings(Settings):
    """USDT_CONTRACT: the USDT-TRC20 contract (mainnet TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t).

    Required: a default would silently point a Nile or devnet deployment at the wrong contract. A USDT intent may
    only be signed, and a USDT payment only counted, as a call to (a log of) this contract.
    """

    usdt_contract: str = setting("USDT_CONTRACT", valid_if=(is_address, "a TRON address"))

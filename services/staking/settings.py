"""The settings groups of staking that more than one of its modules reads."""

from __future__ import annotations

from dataclasses import dataclass

from lucid_tron.config import Settings, setting


@dataclass(frozen=True, kw_only=True)
class StakingWalletSettings(Settings):
    """STAKING_WALLET_ID: the wallet whose first address stakes TRX and delegates resources for the node (`lucid-tron
    up` creates it); empty: the node stakes and delegates nothing on its own behalf."""

    staking_wallet_id: str = setting("STAKING_WALLET_ID", default="")

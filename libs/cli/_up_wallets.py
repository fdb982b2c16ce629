"""The wallets `lucid-tron up` provides so that the main job works out of the box:

- the payment wallet, an HD wallet whose addresses payment-gateway hands out as invoice deposit addresses
  (PAYMENT_WALLET_ID). Its spend policy is empty: it receives, and signs nothing until an operator sets one;
- the payout wallet, an HD wallet whose first address pays payout-router's payouts (PAYOUT_WALLET_ID), with a spend
  policy as wide as payout-router's default limits (TRX and USDT transfers of the devnet's USDT contract), funded
  by devnet at every `up` with TRX and USDT so that a payout works at once.

Created once, directly in wallet-manager's database with the install's master secret (as `lucid-tron wallet restore`
does), before the services start, and found again by the ids `up` keeps in `<state-dir>/wallets.json`. Back a
mnemonic up with `lucid-tron wallet backup <wallet_id>`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

WALLETS_FILE = "wallets.json"
PAYMENT_WALLET = "payment_wallet"
PAYOUT_WALLET = "payout_wallet"
USDT_BASE_UNITS = 1_000_000
SUN_PER_TRX = 1_000_000
#: What devnet credits the payout wallet with at every `up`.
PAYOUT_FUNDING_TRX_SUN = 10_000 * SUN_PER_TRX
PAYOUT_FUNDING_USDT_UNITS = 10_000 * USDT_BASE_UNITS


async def ensure_up_wallets(
    mongo_url: str, database: str, master_key_file: Path, state_dir: Path, usdt_contract: str
) -> dict[str, dict[str, str]]:
    """{"payment_wallet": {"wallet_id", "address"}, "payout_wallet": {...}}, each created on the first call for this
    state dir (again if the database no longer has it)."""
    from lucid_tron.services.wallet_manager.host import HostWallets

    path = state_dir / WALLETS_FILE
    known: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    async with HostWallets.open(mongo_url, database, master_key_file) as host:
        for name, display_name, policy in (
            (PAYMENT_WALLET, "payments", None),
            (PAYOUT_WALLET, "payouts", _payout_policy(usdt_contract)),
        ):
            wallet = await _existing(host, known.get(name, {}).get("wallet_id"))
            if wallet is None:
                wallet = await host.create_hd(display_name=display_name, policy=policy)
            known[name] = {"wallet_id": wallet["_id"], "address": wallet["first_address"]}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(known, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return {name: known[name] for name in (PAYMENT_WALLET, PAYOUT_WALLET)}


async def _existing(host: Any, wallet_id: str | None) -> dict[str, Any] | None:
    from lucid_tron.errors import NotFound

    if not wallet_id:
        return None
    try:
        return dict(await host.wallets.get(wallet_id))
    except NotFound:
        return None  # the database was replaced (--mongo-url elsewhere): a new wallet for it


def _payout_policy(usdt_contract: str) -> Any:
    """As wide as payout-router's default limits: 1,000 USDT a payout and 10,000 a day; 10,000 TRX a payout and
    100,000 a day; 30 TRX of fee (PAYOUT_FEE_LIMIT_SUN's default)."""
    from lucid_tron.services.wallet_manager.spend_policy import AssetCap, SpendPolicy

    return SpendPolicy(
        caps=(
            AssetCap("USDT", per_transaction_max=1_000 * USDT_BASE_UNITS, daily_max=10_000 * USDT_BASE_UNITS),
            AssetCap("TRX", per_transaction_max=10_000 * SUN_PER_TRX, daily_max=100_000 * SUN_PER_TRX),
        ),
        allowed_kinds=frozenset({"TRX_TRANSFER", "TRC20_TRANSFER"}),
        allowed_contracts=frozenset({usdt_contract}),
        max_fee_limit_sun=30 * SUN_PER_TRX,
    )

"""The wallets `lucid-tron up` provides so that the main job works out of the box: the payment wallet, an HD wallet
whose addresses payment-gateway hands out as invoice deposit addresses (PAYMENT_WALLET_ID).

Created once, directly in wallet-manager's database with the install's master secret (as `lucid-tron wallet restore`
does), before the services start, and found again by the id `up` keeps in `<state-dir>/wallets.json`. Its spend
policy is empty: it receives, and signs nothing until an operator sets a policy (UpdateWallet). Back its mnemonic up
with `lucid-tron wallet backup <wallet_id>`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

WALLETS_FILE = "wallets.json"
PAYMENT_WALLET = "payment_wallet"


async def ensure_payment_wallet(mongo_url: str, database: str, master_key_file: Path, state_dir: Path) -> dict[str, str]:
    """{"wallet_id", "address"} of the payment wallet, created on the first call for this state dir."""
    from lucid_tron.errors import NotFound
    from lucid_tron.services.wallet_manager.host import HostWallets

    path = state_dir / WALLETS_FILE
    known: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    async with HostWallets.open(mongo_url, database, master_key_file) as host:
        wallet_id = known.get(PAYMENT_WALLET, {}).get("wallet_id")
        wallet = None
        if wallet_id:
            try:
                wallet = await host.wallets.get(wallet_id)
            except NotFound:
                wallet = None  # the database was replaced (--mongo-url elsewhere): a new wallet for it
        if wallet is None:
            wallet = await host.create_hd(display_name="payments")
    entry = {"wallet_id": wallet["_id"], "address": wallet["first_address"]}
    known[PAYMENT_WALLET] = entry
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(known, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return entry

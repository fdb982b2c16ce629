"""The wallets `lucid-tron up` provides so that the main job works out of the box:

- the payment wallet, an HD wallet whose addresses payment-gateway hands out as invoice deposit addresses
  (PAYMENT_WALLET_ID), with a spend policy that lets the treasury sweep them (TRX and USDT transfers of the devnet's
  USDT contract, with the fee limit a sweep's transfer carries);
- the payout wallet, an HD wallet whose first address pays payout-router's payouts (PAYOUT_WALLET_ID), with a spend
  policy as wide as payout-router's default limits (TRX and USDT transfers of the devnet's USDT contract), funded
  by devnet at every `up` with TRX and USDT so that a payout works at once;
- the staking wallet, an HD wallet whose first address stakes TRX and delegates resources for the node
  (STAKING_WALLET_ID), with a spend policy that allows the Stake 2.0 kinds and small TRX transfers (the treasury
  activates deposit addresses with 1 SUN, and pays a retried sweep's bytes), funded by devnet at every `up`; once the mesh serves, `stake_up_wallet` stakes its TRX for energy and bandwidth through
  staking, only what the chain does not already have staked (so a second `up` on a chain that kept the stake stakes
  nothing more).

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
STAKING_WALLET = "staking_wallet"
USDT_BASE_UNITS = 1_000_000
SUN_PER_TRX = 1_000_000
#: What devnet credits the payout wallet with at every `up`.
PAYOUT_FUNDING_TRX_SUN = 10_000 * SUN_PER_TRX
PAYOUT_FUNDING_USDT_UNITS = 10_000 * USDT_BASE_UNITS
#: What devnet credits the staking wallet with at every `up`, and what `stake_up_wallet` keeps staked of it (devnet
#: gives 10 energy a day per staked TRX: 50,000 TRX cover about 7 USDT transfers a day to holders).
STAKING_FUNDING_TRX_SUN = 60_000 * SUN_PER_TRX
STAKED_FOR_ENERGY_SUN = 50_000 * SUN_PER_TRX
STAKED_FOR_BANDWIDTH_SUN = 1_000 * SUN_PER_TRX
#: lucid.tron.v1.Resource numbers.
_ENERGY, _BANDWIDTH = 2, 1


async def ensure_up_wallets(
    mongo_url: str, database: str, master_key_file: Path, state_dir: Path, usdt_contract: str
) -> dict[str, dict[str, str]]:
    """{"payment_wallet": {"wallet_id", "address"}, "payout_wallet": {...}, "staking_wallet": {...}}, each created
    on the first call for this state dir (again if the database no longer has it)."""
    from lucid_tron.services.wallet_manager.host import HostWallets

    path = state_dir / WALLETS_FILE
    known: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    async with HostWallets.open(mongo_url, database, master_key_file) as host:
        for name, display_name, policy in (
            (PAYMENT_WALLET, "payments", _payment_policy(usdt_contract)),
            (PAYOUT_WALLET, "payouts", _payout_policy(usdt_contract)),
            (STAKING_WALLET, "staking", _staking_policy()),
        ):
            wallet = await _existing(host, known.get(name, {}).get("wallet_id"))
            if wallet is None:
                wallet = await host.create_hd(display_name=display_name, policy=policy)
            known[name] = {"wallet_id": wallet["_id"], "address": wallet["first_address"]}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(known, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return {name: known[name] for name in (PAYMENT_WALLET, PAYOUT_WALLET, STAKING_WALLET)}


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


def _payment_policy(usdt_contract: str) -> Any:
    """What the treasury's sweeps of deposit addresses need: a whole deposit's USDT or TRX in one transfer, and a
    USDT transfer's fee limit with the sweep's energy margin and a retry's doubling (SWEEP_ENERGY_MARGIN_BPS)."""
    from lucid_tron.services.wallet_manager.spend_policy import AssetCap, SpendPolicy

    return SpendPolicy(
        caps=(
            AssetCap("USDT", per_transaction_max=100_000 * USDT_BASE_UNITS, daily_max=1_000_000 * USDT_BASE_UNITS),
            AssetCap("TRX", per_transaction_max=100_000 * SUN_PER_TRX, daily_max=1_000_000 * SUN_PER_TRX),
        ),
        allowed_kinds=frozenset({"TRX_TRANSFER", "TRC20_TRANSFER"}),
        allowed_contracts=frozenset({usdt_contract}),
        max_fee_limit_sun=200 * SUN_PER_TRX,
    )


def _staking_policy() -> Any:
    """The Stake 2.0 kinds (a delegation lends the resource, never the TRX: no cap, no fee limit), and TRX
    transfers of at most 1 TRX: the treasury activates a deposit address with 1 SUN, and sends a retried sweep's
    bytes fee (0.4 TRX)."""
    from lucid_tron.services.wallet_manager.spend_policy import AssetCap, SpendPolicy

    return SpendPolicy(
        caps=(AssetCap("TRX", per_transaction_max=SUN_PER_TRX, daily_max=1_000 * SUN_PER_TRX),),
        allowed_kinds=frozenset({
            "FREEZE_BALANCE_V2", "UNFREEZE_BALANCE_V2", "DELEGATE_RESOURCE", "UNDELEGATE_RESOURCE",
            "WITHDRAW_EXPIRE_UNFREEZE", "CANCEL_ALL_UNFREEZE_V2", "TRX_TRANSFER",
        }),
    )


async def stake_up_wallet(staking_address: str, credentials: Any, wallet: dict[str, str]) -> list[str]:
    """Through staking at `staking_address`: stake the staking wallet's TRX up to STAKED_FOR_ENERGY_SUN and
    STAKED_FOR_BANDWIDTH_SUN, counting what the chain already has staked; the txids sent (none when all is staked)."""
    import uuid

    from lucid.tron.v1 import staking_pb2, staking_pb2_grpc

    from lucid_tron.mesh import open_channel

    sent = []
    async with open_channel(staking_address, credentials=credentials) as channel:
        stub = staking_pb2_grpc.StakingServiceStub(channel)
        request = staking_pb2.GetResourcesRequest(address=wallet["address"])
        found = (await stub.GetResources(request, timeout=30)).resources
        for resource, target, staked in (
            (_ENERGY, STAKED_FOR_ENERGY_SUN, found.staked_for_energy_sun),
            (_BANDWIDTH, STAKED_FOR_BANDWIDTH_SUN, found.staked_for_bandwidth_sun),
        ):
            if target - staked < SUN_PER_TRX:
                continue  # staked already (TRON stakes at least 1 TRX at a time)
            frozen = await stub.FreezeBalance(
                staking_pb2.FreezeBalanceRequest(
                    request_id=str(uuid.uuid4()), wallet_id=wallet["wallet_id"], owner_address=wallet["address"],
                    resource=resource, amount_sun=target - staked,
                ),
                timeout=30,
            )
            sent.append(frozen.transaction.txid)
    return sent

"""What a wallet agrees to sign: the kinds, the contracts, the fee limit, and caps per asset per transaction and per
UTC day. Deny by default: an empty policy signs nothing.

The static rules are checked here; the daily cap is counted atomically by the store (`count_spend`), so concurrent
signatures never overshoot it and a retried one counts once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from lucid_tron.errors import FailedPrecondition, QuotaViolation, ResourceExhausted

#: Assets a cap can name, and the unit of their amounts.
ASSETS = ("TRX", "USDT")
#: Transaction kinds, in the words of lucid.tron.v1.TransactionKind.
KINDS = (
    "TRX_TRANSFER",
    "TRC20_TRANSFER",
    "TRC20_APPROVE",
    "FREEZE_BALANCE_V2",
    "UNFREEZE_BALANCE_V2",
    "DELEGATE_RESOURCE",
    "UNDELEGATE_RESOURCE",
    "WITHDRAW_EXPIRE_UNFREEZE",
    "CANCEL_ALL_UNFREEZE_V2",
)
#: Kinds that move value out of the wallet, counted against the caps of their asset. An approval counts: it hands
#: the spender the right to move that much.
SPENDING_KINDS = frozenset({"TRX_TRANSFER", "TRC20_TRANSFER", "TRC20_APPROVE"})
#: Kinds that call a smart contract, which must be an allowed one.
CONTRACT_KINDS = frozenset({"TRC20_TRANSFER", "TRC20_APPROVE"})

KIND_NOT_ALLOWED = "KIND_NOT_ALLOWED"
CONTRACT_NOT_ALLOWED = "CONTRACT_NOT_ALLOWED"
FEE_LIMIT_OVER_POLICY = "FEE_LIMIT_OVER_POLICY"
ASSET_NOT_ALLOWED = "ASSET_NOT_ALLOWED"
PER_TRANSACTION_CAP = "PER_TRANSACTION_CAP"
DAILY_CAP = "DAILY_CAP"


@dataclass(frozen=True)
class AssetCap:
    """Caps on one asset, in its base units (SUN for TRX)."""

    asset: str
    per_transaction_max: int
    daily_max: int


@dataclass(frozen=True)
class SpendPolicy:
    caps: tuple[AssetCap, ...] = ()
    allowed_kinds: frozenset[str] = field(default_factory=frozenset)
    allowed_contracts: frozenset[str] = field(default_factory=frozenset)
    max_fee_limit_sun: int = 0

    def cap_of(self, asset: str) -> AssetCap | None:
        return next((cap for cap in self.caps if cap.asset == asset), None)

    def check(self, *, wallet_id: str, kind: str, asset: str | None, amount: int, contract: str | None,
              fee_limit_sun: int) -> AssetCap | None:
        """Refuse what the policy does not allow, before any counting; the cap to count against, if any."""
        if kind not in self.allowed_kinds:
            raise FailedPrecondition(
                f"the spend policy of wallet {wallet_id} does not allow {kind}", reason=KIND_NOT_ALLOWED,
                subject="intent.kind",
            )
        if kind in CONTRACT_KINDS and contract not in self.allowed_contracts:
            raise FailedPrecondition(
                f"the spend policy of wallet {wallet_id} does not allow calling contract {contract}",
                reason=CONTRACT_NOT_ALLOWED, subject="raw_data.contract_address",
            )
        if fee_limit_sun > self.max_fee_limit_sun:
            raise FailedPrecondition(
                f"fee_limit {fee_limit_sun} SUN is over the spend policy's maximum of {self.max_fee_limit_sun} SUN",
                reason=FEE_LIMIT_OVER_POLICY, subject="raw_data.fee_limit",
            )
        if kind not in SPENDING_KINDS or asset is None:
            return None
        cap = self.cap_of(asset)
        if cap is None:
            raise FailedPrecondition(
                f"the spend policy of wallet {wallet_id} has no cap for {asset}, so none may be moved",
                reason=ASSET_NOT_ALLOWED, subject="intent.asset",
            )
        if amount > cap.per_transaction_max:
            raise ResourceExhausted(
                f"{amount} {asset} base units is over the per-transaction cap of {cap.per_transaction_max}",
                reason=PER_TRANSACTION_CAP,
                quota=QuotaViolation(
                    cap_subject(wallet_id, asset, "per_transaction"),
                    f"at most {cap.per_transaction_max} base units per transaction",
                ),
            )
        return cap

    def to_document(self) -> dict[str, Any]:
        return {
            "caps": [
                {"asset": cap.asset, "per_transaction_max": cap.per_transaction_max, "daily_max": cap.daily_max}
                for cap in self.caps
            ],
            "allowed_kinds": sorted(self.allowed_kinds),
            "allowed_contracts": sorted(self.allowed_contracts),
            "max_fee_limit_sun": self.max_fee_limit_sun,
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Any] | None) -> SpendPolicy:
        if not document:
            return cls()
        return cls(
            caps=tuple(
                AssetCap(cap["asset"], int(cap["per_transaction_max"]), int(cap["daily_max"]))
                for cap in document["caps"]
            ),
            allowed_kinds=frozenset(document["allowed_kinds"]),
            allowed_contracts=frozenset(document["allowed_contracts"]),
            max_fee_limit_sun=int(document["max_fee_limit_sun"]),
        )


def cap_subject(wallet_id: str, asset: str, which: str) -> str:
    """The QuotaFailure subject of a cap, e.g. "wallet:w_1:USDT:daily"."""
    return f"wallet:{wallet_id}:{asset}:{which}"


def day_key(wallet_id: str, asset: str, day: date) -> str:
    """The spend_days document of one wallet's asset on one UTC day."""
    return f"{wallet_id}/{asset}/{day.isoformat()}"


def daily_cap_reached(wallet_id: str, asset: str, cap: AssetCap, spent: int, amount: int) -> ResourceExhausted:
    headroom = max(cap.daily_max - spent, 0)
    return ResourceExhausted(
        f"{amount} {asset} base units would pass the daily cap of {cap.daily_max}: {headroom} left today (UTC)",
        reason=DAILY_CAP,
        quota=QuotaViolation(cap_subject(wallet_id, asset, "daily"), f"{headroom} base units left today (UTC)"),
    )

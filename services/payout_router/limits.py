"""What payouts may do: the per-payout bounds, the approval threshold and the hourly and daily limits per asset, and
the fault breaker's figures. Plain values; `store` enforces the limits atomically in MongoDB."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

HOURLY_LIMIT = "HOURLY_LIMIT"
DAILY_LIMIT = "DAILY_LIMIT"


@dataclass(frozen=True)
class AssetPolicy:
    """The limits of one asset, in its base units (SUN for TRX)."""

    minimum: int
    maximum: int
    approval_threshold: int
    hourly_limit: int
    daily_limit: int


@dataclass(frozen=True)
class BreakerPolicy:
    """The fault breaker: `failure_threshold` consecutive failures open it; after `recovery_s` at most
    `half_open_max_calls` probe payouts are signed."""

    failure_threshold: int
    recovery_s: float
    half_open_max_calls: int


@dataclass(frozen=True)
class Policy:
    assets: Mapping[str, AssetPolicy]
    breaker: BreakerPolicy
    allowlist_enabled: bool


def window_ends(at: datetime) -> dict[str, datetime]:
    """When the UTC hour and day that `at` falls in end."""
    hour = at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    day = at.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return {"hour": hour, "day": day}

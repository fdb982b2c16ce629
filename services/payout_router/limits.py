"""What payouts may do: the per-payout bounds, the approval threshold and the hourly and daily limits per asset, the
hourly and daily limits per caller role, and the fault breaker's figures. Plain values; `store` enforces the limits
atomically in MongoDB."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

HOURLY_LIMIT = "HOURLY_LIMIT"
DAILY_LIMIT = "DAILY_LIMIT"
#: The role of a caller without an authenticated identity (plaintext, tests).
UNAUTHENTICATED = "unauthenticated"
OPERATOR_ROLE = "operator"
#: Any other identity the mesh authenticated (the mesh issues none other): held to the overall limits.
OTHER_ROLE = "other"
_SERVICE_NAME = re.compile(r"[a-z0-9-]{1,63}")
_OPERATOR = "spiffe://lucid/operator/"
_SERVICE = "spiffe://lucid/tron/"
#: PAYOUT_ROLE_LIMITS: `role:ASSET:hourly:daily` entries (base units), comma separated.
_ROLE_LIMIT = re.compile(r"(operator|unauthenticated|tron/[a-z0-9-]{1,63}):(USDT|TRX):(\d{1,18}):(\d{1,18})")


@dataclass(frozen=True)
class AssetPolicy:
    """The limits of one asset, in its base units (SUN for TRX)."""

    minimum: int
    maximum: int
    approval_threshold: int
    hourly_limit: int
    daily_limit: int


@dataclass(frozen=True)
class RoleLimits:
    """The hourly and daily totals one caller role may create in one asset, in base units."""

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
    #: role -> asset -> its limits; a role or asset not listed is held to the overall limits alone.
    roles: Mapping[str, Mapping[str, RoleLimits]] = field(default_factory=dict)

    def limits(self, asset: str, role: str) -> dict[str, tuple[int | None, int | None]]:
        """period -> (overall limit, the role's limit or None) of `asset` for a payout by `role`."""
        overall = self.assets[asset]
        own = self.roles.get(role, {}).get(asset)
        return {
            "hour": (overall.hourly_limit, None if own is None else own.hourly_limit),
            "day": (overall.daily_limit, None if own is None else own.daily_limit),
        }


def caller_role(principal: str | None) -> str:
    """The role whose limits a caller's payouts count in, from its authenticated identity: every operator shares
    "operator"; a mesh service is its own role, "tron/<service>". (A role is a field name in MongoDB: no dots.)"""
    if principal is None:
        return UNAUTHENTICATED
    if principal.startswith(_OPERATOR):
        return OPERATOR_ROLE
    service = principal.removeprefix(_SERVICE)
    if principal.startswith(_SERVICE) and _SERVICE_NAME.fullmatch(service):
        return "tron/" + service
    return OTHER_ROLE


def is_role_limits(text: str) -> bool:
    """Whether `text` is a PAYOUT_ROLE_LIMITS value ("" included: no role limits)."""
    return all(_ROLE_LIMIT.fullmatch(entry.strip()) for entry in text.split(",") if entry.strip())


def parse_role_limits(text: str) -> dict[str, dict[str, RoleLimits]]:
    """PAYOUT_ROLE_LIMITS as role -> asset -> limits, e.g. "operator:USDT:500000000:2000000000" (hourly, daily)."""
    roles: dict[str, dict[str, RoleLimits]] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        match = _ROLE_LIMIT.fullmatch(entry)
        assert match is not None, "checked by is_role_limits when the settings were read"
        role, asset, hourly, daily = match.groups()
        roles.setdefault(role, {})[asset] = RoleLimits(int(hourly), int(daily))
    return roles


def window_ends(at: datetime) -> dict[str, datetime]:
    """When the UTC hour and day that `at` falls in end."""
    hour = at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    day = at.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return {"hour": hour, "day": day}

"""How webhooks are delivered: one settings group, composed into the settings of each service that sends them."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

from lucid_tron.config import Settings, setting

from ._sealing import SecretSealer, parse_key

__all__ = ["WebhookSettings"]


def _keys(text: str) -> list[bytes]:
    return [parse_key(part) for part in text.split(",") if part.strip()]


def _valid_keys(text: str) -> bool:
    """Whether every comma-separated part is a key (none at all is valid: unset)."""
    with suppress(ValueError):
        _keys(text)
        return True
    return False


@dataclass(frozen=True, kw_only=True)
class WebhookSettings(Settings):
    """Timeouts, retries and limits of webhook delivery.

    An attempt that gets no 2xx answer within `webhook_attempt_timeout_s` fails and is retried after a delay drawn
    at random between 0 and min(`webhook_backoff_max_s`, `webhook_backoff_base_s` * 2^(attempt-1)) ("full
    jitter": retries of many deliveries spread out instead of arriving together). After `webhook_max_attempts`
    failed attempts the delivery is dead-lettered; after `webhook_disable_after_failures` failed attempts in a row
    to one endpoint (over all its deliveries) the endpoint is disabled. At most
    `webhook_max_in_flight_per_endpoint` attempts run at once per endpoint, so a hanging receiver holds only its
    own slots. Due deliveries and outbox events are looked for every `webhook_poll_s` (sooner when this process
    committed the event).

    Endpoint secrets are sealed at rest under `webhook_secrets_key` (AES-256-GCM; `_sealing` says how to rotate it).
    """

    webhook_attempt_timeout_s: float = setting("WEBHOOK_ATTEMPT_TIMEOUT_S", default=10.0, ge=0.01, le=120)
    webhook_max_attempts: int = setting("WEBHOOK_MAX_ATTEMPTS", default=12, ge=1, le=100)
    webhook_backoff_base_s: float = setting("WEBHOOK_BACKOFF_BASE_S", default=5.0, ge=0, le=3600)
    webhook_backoff_max_s: float = setting("WEBHOOK_BACKOFF_MAX_S", default=3600.0, ge=0, le=86400)
    webhook_disable_after_failures: int = setting("WEBHOOK_DISABLE_AFTER_FAILURES", default=50, ge=1, le=100000)
    webhook_max_in_flight_per_endpoint: int = setting("WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT", default=4, ge=1, le=100)
    webhook_poll_s: float = setting("WEBHOOK_POLL_S", default=0.5, ge=0.01, le=60)
    # Base64 of 32 random bytes (e.g. `openssl rand -base64 32`), sealing endpoint secrets at rest; unset: they are
    # stored unsealed, which the service logs at start.
    webhook_secrets_key: str = setting(
        "WEBHOOK_SECRETS_KEY", default="", secret=True, valid_if=(_valid_keys, "base64 of 32 bytes")
    )
    # Keys sealed with before (comma-separated), still opening what they sealed: each replica reseals that under
    # WEBHOOK_SECRETS_KEY at start, then they can go.
    webhook_secrets_previous_keys: str = setting(
        "WEBHOOK_SECRETS_PREVIOUS_KEYS", default="", secret=True,
        valid_if=(_valid_keys, "comma-separated base64 of 32 bytes each"),
    )  # fmt: skip

    @property
    def secret_sealer(self) -> SecretSealer:
        current = _keys(self.webhook_secrets_key)
        return SecretSealer(current[0] if current else None, _keys(self.webhook_secrets_previous_keys))

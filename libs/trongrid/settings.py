"""The settings every TronGrid-facing service reads, declared once (tron-client and tron-relay extend them)."""

from __future__ import annotations

from dataclasses import dataclass

from lucid_tron.config import ConfigError, Problem, setting
from lucid_tron.mesh import ServiceSettings
from tor_proxy import TorConfig, TorConfigError

__all__ = ["TronGridSettings", "tor_config_from_env"]


@dataclass(frozen=True, kw_only=True)
class TronGridSettings(ServiceSettings):
    """Where TronGrid is, the API key (a secret), and how long one attempt may take."""

    trongrid_url: str = setting("TRONGRID_URL", schemes=("http", "https"))
    trongrid_api_key: str | None = setting("TRONGRID_API_KEY", default=None, secret=True)
    # One attempt's limit; the caller's deadline cuts it shorter (Tor adds about a second per request).
    trongrid_timeout_s: float = setting("TRONGRID_TIMEOUT_S", default=10.0, ge=0.1, le=120)


def tor_config_from_env() -> TorConfig:
    """Tor's settings, as a ConfigError (exit 78, every problem listed) when they cannot be used."""
    try:
        return TorConfig.from_env()
    except TorConfigError as error:
        raise ConfigError([Problem("Tor", str(error))]) from None

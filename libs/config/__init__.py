"""Typed settings from environment variables and secret files, validated once at start, every problem at once.

    setting(env, *, default, secret, ge, le, schemes, valid_if)   declare one field of a settings group
    Settings                                                       base of every settings group (frozen dataclass)
    load_settings(settings_type, environ=None)                     read + validate, or ConfigError listing each Problem
    describe_settings(settings_type) -> [SettingInfo]              the configuration reference, from the code itself
    public_view(settings)                                          a dict for a start-up log line, secrets redacted

No grpc and no I/O beyond reading secret files: the Tor library, the TronGrid client and the storage helpers declare
their settings groups here, and a service's settings class composes them (`lucid_tron.mesh.ServiceSettings` adds
what every server has).
"""

from lucid_tron.config._settings import (
    ConfigError,
    Problem,
    Settings,
    SettingInfo,
    describe_settings,
    load_settings,
    public_view,
    setting,
)

__all__ = [
    "ConfigError",
    "Problem",
    "SettingInfo",
    "Settings",
    "describe_settings",
    "load_settings",
    "public_view",
    "setting",
]

"""`lucid-tron config`: the configuration reference, generated from the services' settings classes.

The README's reference is this command's output, and a test compares them, so the documentation cannot drift
from what the services actually read.
"""

from __future__ import annotations

import importlib

from lucid_tron.cli._services import SERVICES
from lucid_tron.config import SettingInfo, describe_settings
from lucid_tron.mesh import ServiceSettings

__all__ = ["config_reference", "settings_type_of"]

# tor_proxy reads these itself (TorConfig.from_env) in every service that reaches TronGrid.
_TOR_SERVICES = ("tron-client", "tron-relay")


def settings_type_of(module: str) -> type[ServiceSettings]:
    """The settings class a service's `__main__` declares (the one ServiceSettings subclass defined there)."""
    main = importlib.import_module(f"{module}.__main__")
    found = [
        value
        for value in vars(main).values()
        if isinstance(value, type)
        and issubclass(value, ServiceSettings)
        and value is not ServiceSettings
        and value.__module__ == main.__name__
    ]
    if len(found) != 1:
        raise LookupError(f"{module}.__main__ defines {len(found)} ServiceSettings subclasses, expected 1")
    return found[0]


def _row(info: SettingInfo) -> str:
    default = "**required**" if info.default is None else (f"`{info.default}`" if info.default else "unset")
    secret = "secret" if info.secret else ""
    return f"| `{info.variable}` | {info.type} | {default} | {secret} |"


def config_reference() -> str:
    """Markdown: the settings every service shares, then each service's own."""
    common = describe_settings(ServiceSettings)
    common_names = {info.variable for info in common}
    header = ["| variable | type | default | |", "|---|---|---|---|"]
    lines = ["#### Every service", "", *header, *map(_row, common), ""]
    for service in SERVICES:
        own = [info for info in describe_settings(settings_type_of(service.module)) if info.variable not in common_names]
        lines += [f"#### {service.name} (`python -m {service.module}`)", ""]
        lines += [*header, *map(_row, own)] if own else ["No settings of its own."]
        if service.name in _TOR_SERVICES:
            lines += ["", "Also reads the Tor settings below."]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"

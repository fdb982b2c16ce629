"""`lucid-tron config`: the configuration reference, generated from the services' settings classes.

The README's reference is this command's output, and a test compares them, so the documentation cannot drift
from what the services actually read.
"""

from __future__ import annotations

import importlib

from lucid_tron.cli._services import BETA_SIDECAR, SERVICES
from lucid_tron.config import SettingInfo, describe_settings
from lucid_tron.mesh import ServiceSettings
from tor_proxy import TorSettings

__all__ = ["config_reference", "settings_type_of", "uses_tor"]


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


def uses_tor(module: str) -> bool:
    """True for a service that reaches the internet (through Tor): its settings include TorSettings."""
    return issubclass(settings_type_of(module), TorSettings)


def _row(info: SettingInfo) -> str:
    default = "**required**" if info.default is None else (f"`{info.default}`" if info.default else "unset")
    secret = "secret" if info.secret else ""
    return f"| `{info.variable}` | {info.type} | {default} | {secret} |"


def config_reference() -> str:
    """Markdown: the settings every service shares, then each service's own, then Tor's (for the services that use
    Tor: those whose settings include TorSettings)."""
    common = describe_settings(ServiceSettings)
    tor = describe_settings(TorSettings)
    listed_apart = {info.variable for info in common + tor}
    header = ["| variable | type | default | |", "|---|---|---|---|"]
    lines = ["#### Every service", "", *header, *map(_row, common), ""]
    tor_users = []
    for service in (*SERVICES, BETA_SIDECAR):
        own = [info for info in describe_settings(settings_type_of(service.module)) if info.variable not in listed_apart]
        lines += [f"#### {service.name} (`python -m {service.module}`)", ""]
        lines += [*header, *map(_row, own)] if own else ["No settings of its own."]
        if uses_tor(service.module):
            tor_users.append(service.name)
            lines += ["", "Also reads the Tor settings below."]
        lines.append("")
    lines += [f"#### Tor ({', '.join(tor_users)})", "", *header, *map(_row, tor), ""]
    return "\n".join(lines).rstrip() + "\n"

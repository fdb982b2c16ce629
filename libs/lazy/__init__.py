"""Load a package's public names from their modules on first use, so importing the package costs nothing.

A service that checks addresses must not pay for secp256k1 and TRON's wire descriptors, and a test helper package
must not start loading Tor's controller because one test needs a Redis server. A package face says::

    __getattr__, __dir__ = lazy_exports(__name__, {"MongoServer": "._mongo"}, modules={"protocol": "lucid.tron.chain.protocol_pb2"})

`names` maps each public name to the module that defines it (relative to the package when it starts with a dot);
`modules` maps a public name to a module that is itself the value. A value is cached in the package's globals, so
the hook runs once per name.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, names: Mapping[str, str], *, modules: Mapping[str, str] | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module-level `__getattr__` and `__dir__` for `package` that import each exported name when first used."""
    attributes = dict(names)
    whole_modules = dict(modules or {})

    def __getattr__(name: str) -> Any:
        if name in whole_modules:
            value = import_module(whole_modules[name], package)
        elif name in attributes:
            value = getattr(import_module(attributes[name], package), name)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(attributes) | set(whole_modules))

    return __getattr__, __dir__

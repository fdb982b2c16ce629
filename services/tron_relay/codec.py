"""The cache's wire format: lucid_tron.trongrid's value dataclasses as JSON, read back by their type hints.

JSON rather than pickle: whoever can write to Redis must not be able to run code in the relay. Bytes are hex,
enums their value, tuples lists, None null. A value that does not fit its type raises CodecError, which the cache
treats as a miss (a format from another version, or a corrupted entry).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from typing import Any

__all__ = ["CodecError", "from_json", "to_json"]


class CodecError(ValueError):
    """Cached data that does not decode as the expected type."""


def to_json(value: Any) -> Any:
    """`value` as JSON-compatible data."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return [to_json(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: to_json(getattr(value, field.name)) for field in dataclasses.fields(value)}
    raise TypeError(f"cannot cache a {type(value).__name__}")


def from_json(kind: Any, data: Any) -> Any:
    """The value of type `kind` that `to_json` turned into `data`; CodecError when `data` does not fit."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        members = typing.get_args(kind)
        if data is None and type(None) in members:
            return None
        for member in members:
            if member is not type(None):
                return from_json(member, data)
    if kind is type(None):
        if data is not None:
            raise CodecError(f"expected null, got {type(data).__name__}")
        return None
    if kind is bool:
        if not isinstance(data, bool):
            raise CodecError(f"expected a bool, got {type(data).__name__}")
        return data
    if kind is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise CodecError(f"expected an int, got {type(data).__name__}")
        return data
    if kind is str:
        if not isinstance(data, str):
            raise CodecError(f"expected a string, got {type(data).__name__}")
        return data
    if kind is bytes:
        try:
            return bytes.fromhex(data)
        except (TypeError, ValueError):
            raise CodecError("expected hex bytes") from None
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(data)
        except ValueError:
            raise CodecError(f"{data!r:.40} is not a {kind.__name__}") from None
    if origin is tuple:
        if not isinstance(data, list):
            raise CodecError(f"expected a list, got {type(data).__name__}")
        args = typing.get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_json(args[0], item) for item in data)
        if len(args) != len(data):
            raise CodecError(f"expected {len(args)} items, got {len(data)}")
        return tuple(from_json(arg, item) for arg, item in zip(args, data))
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        if not isinstance(data, dict):
            raise CodecError(f"expected an object for {kind.__name__}, got {type(data).__name__}")
        hints = _hints(kind)
        try:
            return kind(**{name: from_json(hint, data[name]) for name, hint in hints.items()})
        except KeyError as missing:
            raise CodecError(f"{kind.__name__} misses {missing}") from None
    raise TypeError(f"cannot decode a {kind!r}")


@functools.cache
def _hints(kind: type) -> dict[str, Any]:
    hints = typing.get_type_hints(kind)
    return {field.name: hints[field.name] for field in dataclasses.fields(kind)}

"""Typed settings read from environment variables and secret files, validated once at start.

A service declares its settings as a frozen dataclass whose fields are `setting(...)`s and extends `Settings` (a
service: `lucid_tron.mesh.ServiceSettings`, which holds what every service has). No grpc here: libraries that are not
servers (tor_proxy, the TronGrid client) declare their settings with it too. `load_settings` reads every field, and reports *all* problems at once in one
ConfigError, each naming its variable: an operator fixing a deployment should not discover problems one restart at a
time.

Where a value comes from, first match wins:

- plain settings: the environment variable (e.g. `GRPC_PORT`);
- `secret=True` settings: the file named by `<VAR>_FILE`, then the file `$SECRETS_DIR/<var in lower case>`
  (`SECRETS_DIR` defaults to `/run/secrets`, where compose and Kubernetes mount secrets), then `<VAR>`.
  Files win because they are how production hands out secrets; a variable is visible in `docker inspect` and
  `/proc/<pid>/environ` and is only a convenience for development. One trailing newline is stripped from a file.

An empty variable counts as unset (compose writes `FOO=` for an unset `${FOO}`). The listen address uses the same
names in every service, `GRPC_HOST` and `GRPC_PORT`: each service is its own process with its own environment, so
one template serves every Dockerfile, compose entry and k8s manifest; addresses of *other* services are per-peer
settings of the caller (e.g. `WALLET_MANAGER_ADDR`).
"""

from __future__ import annotations

import dataclasses
import enum
import math
import os
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

_SETTING = "lucid_setting"
_DEFAULT_SECRETS_DIR = "/run/secrets"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration: the variable to fix and what is wrong with it."""

    variable: str
    message: str

    def __str__(self) -> str:
        return f"{self.variable}: {self.message}"


class ConfigError(Exception):
    """The configuration cannot be used. Lists every problem found, not only the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"invalid configuration ({len(self.problems)} problem(s)):\n{lines}")


@dataclass(frozen=True)
class _Setting:
    env: str
    secret: bool
    ge: float | None
    le: float | None
    schemes: tuple[str, ...] | None
    valid_if: tuple[Callable[[Any], bool], str] | None = None


def setting(
    env: str,
    *,
    default: Any = dataclasses.MISSING,
    secret: bool = False,
    ge: float | None = None,
    le: float | None = None,
    schemes: Sequence[str] | None = None,
    valid_if: tuple[Callable[[Any], bool], str] | None = None,
) -> Any:
    """Declare a settings field read from the variable `env`.

    No `default` makes the setting required. `ge`/`le` bound numbers; `schemes` makes a string a URL whose scheme
    must be one of them and which must name a host. `valid_if=(predicate, "what it must be")` is any other rule of
    a single value, e.g. `(is_address, "a TRON address")`. `secret=True` also reads files (see the module
    docstring), keeps the value out of the dataclass repr and out of error messages.
    """
    meta = {_SETTING: _Setting(env, secret, ge, le, tuple(schemes) if schemes is not None else None, valid_if)}
    return dataclasses.field(default=default, repr=not secret, metadata=meta)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Base of every settings group. Extend with `@dataclass(frozen=True, kw_only=True)` and `setting()` fields.

    Groups compose by inheritance: a service's settings class lists the groups it needs as bases
    (`class PayoutSettings(MongoSettings, WalletManagerAddress, ServiceSettings)`), so a variable such as
    MONGO_URL is declared once. Constructing it directly (tests do) validates the same bounds as loading it; a
    subclass that adds cross-field rules in `__post_init__` calls `super().__post_init__()` first and raises
    ConfigError.
    """

    def __post_init__(self) -> None:
        problems = [
            Problem(meta.env, message)
            for f, meta in _settings_of(type(self))
            if (message := _check(meta, getattr(self, f.name))) is not None
        ]
        if problems:
            raise ConfigError(problems)


S = TypeVar("S", bound=Settings)


def load_settings(settings_type: type[S], environ: Mapping[str, str] | None = None) -> S:
    """Read and validate every field of `settings_type` from `environ` (default: os.environ) and secret files.

    Raises ConfigError naming every variable that is missing, malformed or out of bounds.
    """
    environ = os.environ if environ is None else environ
    secrets_dir = Path(environ.get("SECRETS_DIR") or _DEFAULT_SECRETS_DIR)
    hints = typing.get_type_hints(settings_type)
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for f, meta in _settings_of(settings_type):
        try:
            raw = _read(meta, environ, secrets_dir)
            if raw is None:
                if f.default is dataclasses.MISSING:
                    raise _Bad(f"required, not set{_where_to_set(meta)}")
                continue  # the dataclass default applies
            values[f.name] = _parse(hints[f.name], raw, meta)
        except _Bad as bad:
            problems.append(Problem(bad.variable or meta.env, str(bad)))
    if problems:
        problems += [
            Problem(meta.env, message)
            for f, meta in _settings_of(settings_type)
            if f.name in values and (message := _check(meta, values[f.name])) is not None
        ]
        raise ConfigError(problems)
    return settings_type(**values)


def public_view(settings: Settings) -> dict[str, Any]:
    """The settings as a dict for a start-up log line, with secret values replaced."""
    return {
        f.name: "[redacted]" if meta.secret else _plain(getattr(settings, f.name))
        for f, meta in _settings_of(type(settings))
    }


@dataclass(frozen=True)
class SettingInfo:
    """One setting as an operator sees it: the variable, its type, its default (None: required), whether secret."""

    variable: str
    type: str
    default: str | None
    secret: bool


def describe_settings(settings_type: type[Settings]) -> list[SettingInfo]:
    """Every variable `settings_type` reads, for a configuration reference generated from the code itself."""
    hints = typing.get_type_hints(settings_type)
    described = []
    for f, meta in _settings_of(settings_type):
        target = _unwrap_optional(hints[f.name])
        if isinstance(target, type) and issubclass(target, enum.Enum):
            type_name = ", ".join(str(member.value) for member in target)
        else:
            type_name = getattr(target, "__name__", str(target))
        if f.default is dataclasses.MISSING:
            default = None
        elif f.default is None:
            default = ""
        else:
            default = str(_plain(f.default))
        described.append(SettingInfo(meta.env, type_name, default, meta.secret))
    return described


class _Bad(Exception):
    """A value that cannot be used; `variable` overrides the field's variable (e.g. an unreadable `<VAR>_FILE`)."""

    def __init__(self, message: str, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


def _settings_of(settings_type: type) -> list[tuple[dataclasses.Field[Any], _Setting]]:
    fields = dataclasses.fields(settings_type)
    undeclared = [f.name for f in fields if _SETTING not in f.metadata]
    if undeclared:
        raise TypeError(f"{settings_type.__name__}: fields {undeclared} must be declared with setting(...)")
    return [(f, f.metadata[_SETTING]) for f in fields]


def _where_to_set(meta: _Setting) -> str:
    if not meta.secret:
        return ""
    return f" (set {meta.env}_FILE, or put it in $SECRETS_DIR/{meta.env.lower()}, or set {meta.env})"


def _read(meta: _Setting, environ: Mapping[str, str], secrets_dir: Path) -> str | None:
    if meta.secret:
        file_var = f"{meta.env}_FILE"
        if environ.get(file_var):
            return _read_file(Path(environ[file_var]), file_var)
        mounted = secrets_dir / meta.env.lower()
        if mounted.is_file():
            return _read_file(mounted, meta.env)
    return environ.get(meta.env) or None


def _read_file(path: Path, variable: str) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise _Bad(f"cannot read secret file {path}: {err.__class__.__name__}", variable) from None
    return text.removesuffix("\n").removesuffix("\r") or None


def _parse(annotation: Any, raw: str, meta: _Setting) -> Any:
    shown = "a value" if meta.secret else repr(raw)
    target = _unwrap_optional(annotation)
    if target is bool:
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise _Bad(f"must be one of true/false/1/0/yes/no/on/off, got {shown}")
    if target is int:
        try:
            return int(raw, 10)
        except ValueError:
            raise _Bad(f"must be an integer, got {shown}") from None
    if target is float:
        try:
            number = float(raw)
        except ValueError:
            raise _Bad(f"must be a number, got {shown}") from None
        if not math.isfinite(number):
            raise _Bad(f"must be a finite number, got {shown}")
        return number
    if target is str:
        return raw
    if target is Path:
        return Path(raw)
    if isinstance(target, type) and issubclass(target, enum.Enum):
        for member in target:
            if raw.lower() in (str(member.value).lower(), member.name.lower()):
                return member
        allowed = ", ".join(str(member.value) for member in target)
        raise _Bad(f"must be one of {allowed}, got {shown}")
    raise TypeError(f"setting {meta.env}: unsupported type {annotation!r}")


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _check(meta: _Setting, value: Any) -> str | None:
    """The bound a value breaks, or None. Secret values are never quoted."""
    if value is None:
        return None
    shown = "the value" if meta.secret else repr(value)
    if meta.ge is not None and value < meta.ge:
        return f"must be >= {meta.ge:g}, got {shown}"
    if meta.le is not None and value > meta.le:
        return f"must be <= {meta.le:g}, got {shown}"
    if meta.schemes is not None:
        url = urlsplit(value)
        if url.scheme not in meta.schemes or not url.hostname:
            return f"must be a URL like {meta.schemes[0]}://host:port (scheme {'/'.join(meta.schemes)}), got {shown}"
    if meta.valid_if is not None:
        predicate, expected = meta.valid_if
        if not predicate(value):
            return f"must be {expected}, got {shown}"
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    return value

"""Logs: one JSON object per line on stderr, with the service, request id and trace id, and secrets redacted.

Why JSON: the logs of seven services on a Pi are read by machines first (docker logs | jq, Loki); one object per
line keeps multi-line tracebacks in one record. The request id and trace id come from contextvars, so every line
logged while handling an RPC can be joined to it without passing ids around.

Redaction is a last line of defence, not a licence: a handler filter replaces the value of any field whose name
looks like a secret (private_key, mnemonic, seed, secret, password, passphrase, api_key, token) with "[redacted]",
in `extra={...}` fields, in dict arguments (`log.info("%(seed)s", {...})`) and in `name=value` text of the message.
It cannot recognise a bare key passed positionally; that must never be written in the first place.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

from lucid_tron.mesh._service_settings import LogFormat, LogLevel
from lucid_tron.context._ids import current_request_id, current_trace_id

REDACTED = "[redacted]"

_SECRET_NAME = re.compile(r"private_?key|mnemonic|seed|secret|passw(or)?d|passphrase|api_?key|token", re.IGNORECASE)
# `name=value` / `name: value` / `"name": "value"` inside a message, where name looks like a secret.
_SECRET_IN_TEXT = re.compile(
    r"""(?P<name>["']?[\w.-]*(?:private_?key|mnemonic|seed|secret|passw(?:or)?d|passphrase|api_?key|token)[\w.-]*["']?)"""
    r"""(?P<sep>\s*[=:]\s*)(?P<value>"[^"]*"|'[^']*'|[^\s,;}&]+)""",
    re.IGNORECASE,
)
# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def configure_logging(service: str, level: LogLevel = LogLevel.INFO, fmt: LogFormat = LogFormat.JSON) -> None:
    """Send every logger's records to stderr, one line each, through the redaction filter.

    Replaces the root handlers, so calling it again (tests, a second server in one process) does not duplicate lines.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter(service) if fmt is LogFormat.JSON else _TextFormatter(service))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.value)


class RedactingFilter(logging.Filter):
    """Replace the values of secret-looking fields before any formatter sees the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name in list(vars(record)):
            if name not in _RECORD_ATTRS:
                setattr(record, name, _redact_value(name, getattr(record, name)))
        if isinstance(record.args, dict):
            record.args = {key: _redact_value(str(key), value) for key, value in record.args.items()}
        try:
            # Format now so that secrets arriving through %-arguments are caught in the final text too.
            message = record.getMessage()
        except Exception:  # a bad format string is reported by the formatter, as logging does
            return True
        record.msg, record.args = _redact_text(message), None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, msg, service, request_id/trace_id, extras, exc."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "service": self._service,
        }
        if (request_id := current_request_id()) is not None:
            line["request_id"] = request_id
        if (trace_id := current_trace_id()) is not None:
            line["trace_id"] = trace_id
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRS and name not in line:
                line[name] = value
        if record.exc_info:
            line["exc"] = _redact_text("".join(traceback.format_exception(*record.exc_info)))
        elif record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, default=str, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    """Human-readable lines for a developer's terminal."""

    def __init__(self, service: str) -> None:
        super().__init__("%(asctime)s %(levelname)-7s " + service + " %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = current_request_id()
        return text if request_id is None else f"{text} [request_id={request_id}]"

    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        return _redact_text(super().formatException(ei))


def _redact_value(name: str, value: Any) -> Any:
    if _SECRET_NAME.search(name):
        return REDACTED
    if isinstance(value, dict):
        return {key: _redact_value(str(key), item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value("", item) for item in value]
    if isinstance(value, str):
        return _redact_text(value)
    return value


def _redact_text(text: str) -> str:
    return _SECRET_IN_TEXT.sub(lambda m: f"{m['name']}{m['sep']}{REDACTED}", text)

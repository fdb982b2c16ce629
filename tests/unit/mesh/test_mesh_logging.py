"""Logs are one JSON object per line with request context, and secret-looking fields never reach them."""

from __future__ import annotations

import contextvars
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from lucid_tron.mesh import LogFormat, LogLevel, configure_logging
from lucid_tron.context._ids import set_trace_id
from lucid_tron.context._scope import REQUEST_ID_HEADER, open_scope
from lucid_tron.mesh._logging import JsonFormatter, RedactingFilter


@pytest.fixture
def buffer() -> Iterator[io.StringIO]:
    """Records of the `log()` logger, through the mesh's redaction filter and JSON formatter, into a buffer."""
    text = io.StringIO()
    handler = logging.StreamHandler(text)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter("tron-relay"))
    logger = log()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield text
    logger.removeHandler(handler)


def log() -> logging.Logger:
    return logging.getLogger("test.mesh.logging")


def lines_of(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


class RpcWithRequestId:
    """Stands in for a grpc.aio ServicerContext: the request scope reads only these two methods of it."""

    def __init__(self, request_id: str) -> None:
        self._metadata = ((REQUEST_ID_HEADER, request_id),)

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def time_remaining(self) -> float | None:
        return None


def test_a_record_is_one_json_line_with_the_standard_fields(buffer: io.StringIO) -> None:
    log().info("block %d solidified", 42)
    [line] = lines_of(buffer)
    assert line["level"] == "INFO"
    assert line["logger"] == "test.mesh.logging"
    assert line["msg"] == "block 42 solidified"
    assert line["service"] == "tron-relay"
    assert line["ts"].endswith("+00:00")
    assert "request_id" not in line and "trace_id" not in line


def test_lines_inside_an_rpc_carry_its_request_and_trace_ids(buffer: io.StringIO) -> None:
    def in_rpc() -> None:
        open_scope(RpcWithRequestId("req-123"), None)
        set_trace_id("0af7651916cd43dd8448eb211c80319c")
        log().info("handling")

    contextvars.copy_context().run(in_rpc)
    [line] = lines_of(buffer)
    assert line["request_id"] == "req-123"
    assert line["trace_id"] == "0af7651916cd43dd8448eb211c80319c"


def test_extra_fields_are_included(buffer: io.StringIO) -> None:
    log().info("invoice paid", extra={"invoice_id": "inv_1", "amount_sun": 1_500_000})
    [line] = lines_of(buffer)
    assert (line["invoice_id"], line["amount_sun"]) == ("inv_1", 1_500_000)


def test_an_exception_is_logged_with_its_traceback(buffer: io.StringIO) -> None:
    try:
        raise ValueError("broken invariant")
    except ValueError:
        log().exception("unexpected")
    [line] = lines_of(buffer)
    assert line["level"] == "ERROR"
    assert "Traceback (most recent call last)" in line["exc"]
    assert "ValueError: broken invariant" in line["exc"]


@pytest.mark.parametrize(
    "field",
    ["private_key", "privateKey", "mnemonic", "seed", "hd_seed", "secret", "password", "api_key", "TRONGRID_API_KEY"],
)
def test_secret_named_extra_fields_are_redacted(buffer: io.StringIO, field: str) -> None:
    log().info("loaded", extra={field: "5KQwrPbwdL6PhXujxW37FSSQZ1JiwsST4cqQzDeyXtP79zkvFD3"})
    [line] = lines_of(buffer)
    assert line[field] == "[redacted]"
    assert "5KQwrPbw" not in json.dumps(line)


def test_secrets_nested_in_extra_dicts_are_redacted(buffer: io.StringIO) -> None:
    log().info("settings", extra={"settings": {"port": 50051, "wallet": {"mnemonic": "abandon abandon about"}}})
    [line] = lines_of(buffer)
    assert line["settings"] == {"port": 50051, "wallet": {"mnemonic": "[redacted]"}}


def test_secrets_in_dict_arguments_are_redacted(buffer: io.StringIO) -> None:
    log().info("derived %(address)s from %(seed)s", {"address": "TXYZ", "seed": "deadbeef" * 8})
    [line] = lines_of(buffer)
    assert line["msg"] == "derived TXYZ from [redacted]"


def test_name_value_secrets_in_message_text_are_redacted(buffer: io.StringIO) -> None:
    log().info("connecting with api_key=%s password: %s", "abc123", "'hunter 2'")
    [line] = lines_of(buffer)
    assert line["msg"] == "connecting with api_key=[redacted] password: [redacted]"


def test_json_secrets_in_message_text_are_redacted(buffer: io.StringIO) -> None:
    log().warning('unexpected body {"private_key": "0x1234", "address": "TXYZ"}')
    [line] = lines_of(buffer)
    assert line["msg"] == 'unexpected body {"private_key": [redacted], "address": "TXYZ"}'


def test_secrets_in_exception_messages_are_redacted(buffer: io.StringIO) -> None:
    try:
        raise RuntimeError("login failed for password=hunter2")
    except RuntimeError:
        log().exception("oops")
    [line] = lines_of(buffer)
    assert "hunter2" not in line["exc"]


def test_configure_logging_writes_json_lines_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        configure_logging("tron-client", LogLevel.WARNING, LogFormat.JSON)
        logging.getLogger("x").info("dropped below WARNING")
        logging.getLogger("x").warning("kept", extra={"password": "p"})
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    [line] = [json.loads(text) for text in capsys.readouterr().err.splitlines()]
    assert (line["msg"], line["service"], line["password"]) == ("kept", "tron-client", "[redacted]")

"""What an HTTP answer from TronGrid means: a result, or which error.

TRON answers many failures with HTTP 200 and an error in the body:
- `{"Error": "class org.tron.core.exception...: ..."}` (FullNode HTTP API)
- `{"code": "SIGERROR", "txid": "...", "message": "<hex of UTF-8 text>"}` (broadcasttransaction)
- `{"result": {"code": "CONTRACT_VALIDATE_ERROR", "message": "<hex>"}}` (triggersmartcontract and friends)
- `{"success": false, "error": "..."}` (the /v1/ API)
Throttling comes as 429, 403, or an Error text "... suspended for N s".
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from typing import Any

from ._exceptions import (
    TronGridBadResponse,
    TronGridError,
    TronGridNodeBusy,
    TronGridNodeError,
    TronGridThrottled,
    TronGridUnavailable,
)

__all__ = ["decode_node_message", "interpret", "retry_after_s"]

# Codes with which a node says "not now", not "no": the same request may succeed later.
_BUSY_CODES = frozenset({"SERVER_BUSY", "NO_CONNECTION", "NOT_ENOUGH_EFFECTIVE_CONNECTION"})
_SUSPENDED = re.compile(r"suspended for\s*(\d+(?:\.\d+)?)\s*s", re.IGNORECASE)
_RATE_EXCEEDED = re.compile(r"rate exceeded|frequency limit|request too quickly", re.IGNORECASE)
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
_DETAIL_CHARS = 200


def interpret(status: int, body: bytes, retry_after_header: str | None) -> Any:
    """The parsed JSON result of a 2xx answer, or raise the `TronGridError` the answer stands for."""
    if status in (429, 403):
        text = body[:_DETAIL_CHARS].decode("utf-8", "replace")
        raise TronGridThrottled(
            f"TronGrid throttled the request (HTTP {status})",
            retry_after_s=retry_after_s(retry_after_header) or _suspended_for_s(text),
        )
    if status >= 500:
        raise TronGridUnavailable(
            f"TronGrid answered HTTP {status}",
            reason="TRONGRID_SERVER_ERROR",
            retry_after_s=retry_after_s(retry_after_header),
        )
    if not 200 <= status < 300:
        raise TronGridBadResponse(f"TronGrid answered HTTP {status}: {_detail(body)}", status=status)
    try:
        result = json.loads(body)
    except ValueError:
        raise TronGridBadResponse(f"TronGrid answered with a body that is not JSON: {_detail(body)}", status=status) from None
    error = _error_in_body(result)
    if error is not None:
        raise error
    return result


def _error_in_body(body: Any) -> TronGridError | None:
    if not isinstance(body, dict):
        return None
    if "Error" in body:
        return _node_error(None, str(body["Error"]), body)
    if body.get("success") is False and "error" in body:
        return _node_error(None, str(body["error"]), body)
    inner = body.get("result")
    holder = inner if isinstance(inner, dict) and "code" in inner else body
    code = holder.get("code")
    if isinstance(code, str) and code != "SUCCESS" and holder.get("result") is not True:
        return _node_error(code, decode_node_message(holder.get("message", "")), body)
    return None


def _node_error(code: str | None, message: str, body: dict[str, Any]) -> TronGridError:
    if code is None and (_SUSPENDED.search(message) or _RATE_EXCEEDED.search(message)):
        return TronGridThrottled(f"TronGrid throttled the request: {message}", retry_after_s=_suspended_for_s(message))
    if code in _BUSY_CODES:
        return TronGridNodeBusy(code, message)
    txid = body.get("txid")
    return TronGridNodeError(code, message, txid=txid if isinstance(txid, str) else None)


def decode_node_message(message: object) -> str:
    """TRON hex-encodes the UTF-8 text of many messages; give the text (or the message as it came)."""
    text = str(message)
    if _HEX.fullmatch(text):
        try:
            decoded = bytes.fromhex(text).decode("utf-8")
        except UnicodeDecodeError:
            return text
        if decoded.isprintable():
            return decoded
    return text


def retry_after_s(header: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP date), None if absent or bad."""
    if header is None or not header.strip():
        return None
    value = header.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _suspended_for_s(text: str) -> float | None:
    match = _SUSPENDED.search(text)
    return float(match.group(1)) if match else None


def _detail(body: bytes) -> str:
    return body[:_DETAIL_CHARS].decode("utf-8", "replace").strip() or "<empty>"

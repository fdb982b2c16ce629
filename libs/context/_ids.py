"""Per-request values that logs and outgoing calls read: the request id and the trace id.

They live in contextvars (not globals) because grpc.aio runs every RPC in its own task, and a task copies the
context it was created in: a value set while handling one RPC is invisible to every other RPC, and no reset is
needed when the RPC ends. No grpc here: the logging code reads these values too.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "x-request-id"

# A caller-supplied id ends up in every log line of the request: accept only short, printable ids so a caller
# cannot inject fake log fields or flood the logs. Anything else is replaced by a fresh id.
_ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

_request_id: ContextVar[str | None] = ContextVar("lucid_request_id", default=None)
_trace_id: ContextVar[str | None] = ContextVar("lucid_trace_id", default=None)


def current_request_id() -> str | None:
    """The id of the RPC being handled, or None outside an RPC."""
    return _request_id.get()


def current_trace_id() -> str | None:
    """The W3C trace id (32 hex digits) of the RPC being handled when tracing is on, else None."""
    return _trace_id.get()


def accept_request_id(offered: str | None) -> str:
    """Adopt the caller's request id when it is well-formed, else make a new one; store it for this RPC."""
    request_id = offered if offered and _ACCEPTABLE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
    _request_id.set(request_id)
    return request_id


def set_trace_id(trace_id: str) -> None:
    """Record the trace id of the span that covers this RPC, for log lines."""
    _trace_id.set(trace_id)

"""Per-request values that logs and outgoing calls read: the request id and the trace id.

They live in contextvars (not globals) because grpc.aio runs every RPC in its own task, and a task copies the
context it was created in: a value set while handling one RPC is invisible to every other RPC, and no reset is
needed when the RPC ends. No grpc here: the logging code reads these values too.
"""

from __future__ import annotations

from contextvars import ContextVar

from lucid_tron.context._scope import REQUEST_ID_HEADER, current_scope

__all__ = ["REQUEST_ID_HEADER", "current_request_id", "current_trace_id", "set_trace_id"]

_trace_id: ContextVar[str | None] = ContextVar("lucid_trace_id", default=None)


def current_request_id() -> str | None:
    """The id of the RPC being handled (the caller's, or one made now on first use), or None outside an RPC."""
    scope = current_scope()
    return None if scope is None else scope.request_id


def current_trace_id() -> str | None:
    """The W3C trace id (32 hex digits) of the RPC being handled when it is traced, else None."""
    return _trace_id.get()


def set_trace_id(trace_id: str) -> None:
    """Record the trace id of the span that covers this RPC, for log lines."""
    _trace_id.set(trace_id)

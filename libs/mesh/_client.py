"""Channels from one service to another that carry the current request's deadline, request id and trace.

A call made while handling an RPC gets the time left on that RPC (minus a margin) as its timeout, so a
downstream service never works for a caller that has already given up. An explicit timeout is kept when it is
shorter. When the deadline has already passed, the call is not made: DeadlineExceeded is raised instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import grpc

from lucid_tron.context import deadlines
from lucid_tron.context._ids import REQUEST_ID_HEADER, current_request_id
from lucid_tron.mesh._tracing import inject_trace_context


def open_channel(target: str, *, options: Sequence[tuple[str, Any]] = ()) -> grpc.aio.Channel:
    """An insecure grpc.aio channel to another service of the mesh (e.g. "wallet-manager:50051").

    Plaintext, because the services talk over the host's private network or the compose network, never the
    internet. Close it with `await channel.close()` in an on_stop hook, or use it as `async with`.
    """
    return grpc.aio.insecure_channel(target, options=list(options), interceptors=_INTERCEPTORS)


# One object per call shape: grpc.aio files an interceptor under the first shape it implements only, so a single
# class implementing all four would silently skip streaming calls.
class _UnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await continuation(_propagated(client_call_details), request)


class _UnaryStream(grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await continuation(_propagated(client_call_details), request)


class _StreamUnary(grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
        return await continuation(_propagated(client_call_details), request_iterator)


class _StreamStream(grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
        return await continuation(_propagated(client_call_details), request_iterator)


_INTERCEPTORS: list[grpc.aio.ClientInterceptor] = [_UnaryUnary(), _UnaryStream(), _StreamUnary(), _StreamStream()]


def _propagated(details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
    timeout = details.timeout
    if deadlines.remaining() is not None:
        timeout = deadlines.timeout(math.inf if timeout is None else timeout)
    metadata = grpc.aio.Metadata(*(details.metadata or ()))
    request_id = current_request_id()
    if request_id is not None and not metadata.get_all(REQUEST_ID_HEADER):
        metadata.add(REQUEST_ID_HEADER, request_id)
    inject_trace_context(metadata)
    return grpc.aio.ClientCallDetails(
        method=details.method,
        timeout=timeout,
        metadata=metadata,
        credentials=details.credentials,
        wait_for_ready=details.wait_for_ready,
    )

"""Server interceptor that opens each RPC's request scope: request id and deadline.

It runs first, so everything after it (tracing, error mapping, the servicer, code it calls) can read
`current_request_id()` and `deadlines.remaining()`. The request id is echoed to the caller in trailing metadata
so a user's report ("request_id=...") finds the server's log lines.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import grpc

from lucid_tron.mesh import deadlines
from lucid_tron.mesh._context import REQUEST_ID_HEADER, accept_request_id
from lucid_tron.mesh._handlers import wrap_handler


class RequestScopeInterceptor(grpc.aio.ServerInterceptor):
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        return wrap_handler(await continuation(handler_call_details), _request_scope)


@asynccontextmanager
async def _request_scope(context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[None]:
    offered = next((value for key, value in context.invocation_metadata() or () if key == REQUEST_ID_HEADER), None)
    request_id = accept_request_id(offered if isinstance(offered, str) else None)
    deadlines._set_from_rpc(context.time_remaining())
    # Set before the behavior runs so the id is also sent when it ends normally; an error status re-adds it, because
    # aborting replaces the trailing metadata.
    context.set_trailing_metadata(((REQUEST_ID_HEADER, request_id),))
    yield

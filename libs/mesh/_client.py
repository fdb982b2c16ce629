"""Channels from one service to another that carry the current request's deadline, request id and trace.

A call made while handling an RPC gets the time left on that RPC (minus a margin) as its timeout, so a
downstream service never works for a caller that has already given up. An explicit timeout is kept when it is
shorter. When the deadline has already passed, the call is not made: DeadlineExceeded is raised instead.

`open_peer_channel` is the channel the typed peer clients (`lucid_tron.peers`) use. On top of that it gives a call
made outside any RPC (a background job) a default timeout, and turns the status a peer answers into the caller's
own error (`_errors.error_from_peer`): every call to a peer fails with a `lucid_tron.errors` class or PeerFailed,
never with grpc's AioRpcError, so the caller's mapping answers its own caller with the status of its situation.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc

from lucid_tron.context import deadlines
from lucid_tron.context._ids import REQUEST_ID_HEADER, current_request_id
from lucid_tron.mesh._errors import error_from_peer
from lucid_tron.mesh._tracing import inject_trace_context


def open_channel(
    target: str,
    *,
    credentials: grpc.ChannelCredentials | None = None,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.aio.Channel:
    """A grpc.aio channel to another service of the mesh (e.g. "wallet-manager:50051").

    `credentials`: the caller's mutual TLS (`lucid_tron.pki.channel_credentials`); the server's certificate must
    name the target's host. None: plaintext, for a mesh run with GRPC_INSECURE_PLAINTEXT. Close it with
    `await channel.close()` in an on_stop hook, or use it as `async with`.
    """
    return _channel(target, credentials, list(options), _INTERCEPTORS)


def _channel(
    target: str,
    credentials: grpc.ChannelCredentials | None,
    options: list[tuple[str, Any]],
    interceptors: Sequence[grpc.aio.ClientInterceptor],
) -> grpc.aio.Channel:
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=options, interceptors=interceptors)
    return grpc.aio.secure_channel(target, credentials, options=options, interceptors=interceptors)


# grpc's reconnect backoff grows to 120 s: after a long outage of a peer, its callers could keep answering
# UNAVAILABLE for up to two more minutes after it came back. Peers are on the LAN (or the same Pi), so probing a
# dead one every few seconds costs nothing.
_PEER_CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.min_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 2_000),
)


def open_peer_channel(
    target: str,
    *,
    peer: str,
    default_timeout_s: float,
    credentials: grpc.ChannelCredentials | None = None,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.aio.Channel:
    """A channel to the service `peer` (its name in logs and errors, e.g. "wallet-manager") at `target`.

    Like `open_channel`, and: a call with neither a caller's deadline nor an explicit timeout gets
    `default_timeout_s`; a failed call raises the caller's own error for the peer's status (see the module docstring).
    """
    interceptors: list[grpc.aio.ClientInterceptor] = [
        _PeerUnaryUnary(peer, default_timeout_s),
        _PeerUnaryStream(peer, default_timeout_s),
        _PeerStreamUnary(peer, default_timeout_s),
        _PeerStreamStream(peer, default_timeout_s),
    ]
    return _channel(target, credentials, [*_PEER_CHANNEL_OPTIONS, *options], interceptors)


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


class _ToPeer:
    """What the peer interceptors share: the peer's name, the default timeout, and the mapping of a failure."""

    def __init__(self, peer: str, default_timeout_s: float) -> None:
        self._peer = peer
        self._default_timeout_s = default_timeout_s

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        return _propagated(details, self._default_timeout_s)

    async def _response(self, call: Any, method: str) -> Any:
        # Awaited here rather than by the caller so that the failure can be replaced: grpc.aio hands the caller
        # whatever the interceptor returns or raises.
        try:
            return await call
        except grpc.aio.AioRpcError as failure:
            raise error_from_peer(self._peer, method, failure) from None

    async def _responses(self, call: Any, method: str) -> AsyncIterator[Any]:
        try:
            async for response in call:
                yield response
        except grpc.aio.AioRpcError as failure:
            raise error_from_peer(self._peer, method, failure) from None


class _PeerUnaryUnary(_ToPeer, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        call = await continuation(self._details(client_call_details), request)
        return await self._response(call, _method(client_call_details))


class _PeerUnaryStream(_ToPeer, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        call = await continuation(self._details(client_call_details), request)
        return self._responses(call, _method(client_call_details))


class _PeerStreamUnary(_ToPeer, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
        call = await continuation(self._details(client_call_details), request_iterator)
        return await self._response(call, _method(client_call_details))


class _PeerStreamStream(_ToPeer, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
        call = await continuation(self._details(client_call_details), request_iterator)
        return self._responses(call, _method(client_call_details))


def _method(details: grpc.aio.ClientCallDetails) -> str:
    method = details.method
    return method.decode() if isinstance(method, bytes) else method


def _propagated(
    details: grpc.aio.ClientCallDetails, default_timeout_s: float | None = None
) -> grpc.aio.ClientCallDetails:
    timeout = details.timeout
    if deadlines.remaining() is not None:
        timeout = deadlines.timeout(math.inf if timeout is None else timeout)
    elif timeout is None:
        timeout = default_timeout_s
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

"""`PeerClient`: a typed client of one service of the mesh, over `lucid_tron.mesh.open_peer_channel`."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar

import grpc

from lucid_tron.mesh import open_peer_channel
from lucid_tron.pki import ClientTls, TlsSettings

#: Longest a call may take when there is no caller's deadline to take it from (a background job's call) and the
#: call sets no timeout itself: long enough for tron-client's slowest answer (its own default is 30 s).
DEFAULT_PEER_TIMEOUT_S = 30.0

StubT = TypeVar("StubT")


class PeerClient(Generic[StubT]):
    """The generated async stub of one peer as `rpc`: `await wallet.rpc.GetWallet(GetWalletRequest(...))`.

    Each call carries the caller's deadline (minus a margin), request id and trace; without a caller's deadline and
    without `timeout=`, it gets `default_timeout_s`. A failed call raises the caller's own error for the peer's
    status (`lucid_tron.errors`: Unavailable PEER_UNAVAILABLE, NotFound, FailedPrecondition, ..., or PeerFailed).
    Close it in an on_stop hook (`await client.close()`), or use it as `async with`. No connection is made until
    the first call, and a peer that is down does not stop the caller from starting.

    `tls`: mutual TLS with this process's certificate (None: plaintext). grpc fixes a channel's credentials when it
    is created, so when the certificate files change `rpc` moves to a new channel (checked at most once a second);
    calls in flight on the old one finish there (it closes after `default_timeout_s`).
    """

    #: The peer's name in logs and errors (its service name, e.g. "wallet-manager").
    peer: ClassVar[str]
    #: The generated stub class (e.g. wallet_pb2_grpc.WalletServiceStub).
    stub: ClassVar[type[Any]]

    def __init__(
        self, target: str, *, tls: ClientTls | None = None, default_timeout_s: float = DEFAULT_PEER_TIMEOUT_S
    ) -> None:
        self.target = target
        self._tls = tls
        self._default_timeout_s = default_timeout_s
        self._retiring: set[asyncio.Task[None]] = set()
        # Opened on the first call, in the event loop that serves: a grpc.aio channel belongs to the loop it was
        # created in, and services build their clients before `asyncio.run` starts the loop they serve in.
        self._channel: grpc.aio.Channel | None = None
        self._rpc: StubT | None = None

    @property
    def rpc(self) -> StubT:
        if self._channel is None or self._rpc is None:
            self._channel = self._open()
            self._rpc = self.stub(self._channel)
        elif self._tls is not None and self._tls.changed():
            old, self._channel = self._channel, self._open()
            self._rpc = self.stub(self._channel)
            retiring = asyncio.get_running_loop().create_task(old.close(grace=self._default_timeout_s))
            self._retiring.add(retiring)
            retiring.add_done_callback(self._retiring.discard)
        return self._rpc

    def _open(self) -> grpc.aio.Channel:
        credentials = None if self._tls is None else self._tls.credentials
        return open_peer_channel(
            self.target, peer=self.peer, default_timeout_s=self._default_timeout_s, credentials=credentials
        )

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
        for retiring in list(self._retiring):
            retiring.cancel()
        await asyncio.gather(*self._retiring, return_exceptions=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


def client_tls(settings: TlsSettings) -> ClientTls | None:
    """This process's client credentials for its peers (None in GRPC_INSECURE_PLAINTEXT mode)."""
    files = settings.tls_files
    return None if files is None else ClientTls(files)

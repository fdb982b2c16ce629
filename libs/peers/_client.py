"""`PeerClient`: a typed client of one service of the mesh, over `lucid_tron.mesh.open_peer_channel`."""

from __future__ import annotations

from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar

from lucid_tron.mesh import open_peer_channel

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
    """

    #: The peer's name in logs and errors (its service name, e.g. "wallet-manager").
    peer: ClassVar[str]
    #: The generated stub class (e.g. wallet_pb2_grpc.WalletServiceStub).
    stub: ClassVar[type[Any]]

    def __init__(self, target: str, *, default_timeout_s: float = DEFAULT_PEER_TIMEOUT_S) -> None:
        self.target = target
        self._channel = open_peer_channel(target, peer=self.peer, default_timeout_s=default_timeout_s)
        self.rpc: StubT = self.stub(self._channel)

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

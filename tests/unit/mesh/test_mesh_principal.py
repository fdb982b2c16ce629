"""`lucid_tron.context.principal()`: the caller's verified SPIFFE id for the whole call, read once, None without one."""

from __future__ import annotations

import contextvars

from lucid_tron.context import principal
from lucid_tron.context._scope import open_scope


class Call:
    """Stands in for a grpc.aio ServicerContext: the scope reads only these three methods of it."""

    def __init__(self, auth: dict[str, list[bytes]]) -> None:
        self.auth = auth
        self.reads = 0

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return ()

    def time_remaining(self) -> float | None:
        return None

    def auth_context(self) -> dict[str, list[bytes]]:
        self.reads += 1
        return self.auth


def test_outside_a_call_there_is_no_principal() -> None:
    assert contextvars.copy_context().run(principal) is None


def test_the_principal_is_the_verified_spiffe_id_read_once_per_call() -> None:
    call = Call({"transport_security_type": [b"ssl"], "peer_spiffe_id": [b"spiffe://lucid/operator/alice"]})

    def in_call() -> list[str | None]:
        open_scope(call, None)
        return [principal(), principal()]

    assert contextvars.copy_context().run(in_call) == ["spiffe://lucid/operator/alice"] * 2
    assert call.reads == 1


def test_a_plaintext_call_has_no_principal() -> None:
    call = Call({"transport_security_type": [b"insecure"]})

    def in_call() -> str | None:
        open_scope(call, None)
        return principal()

    assert contextvars.copy_context().run(in_call) is None

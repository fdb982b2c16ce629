"""The master secret: the bytes of the file named by ENCRYPTION_KEY_FILE (a Docker/Kubernetes secret), from which the
vault's key is derived. It is held in memory only; its repr names where it came from, never what it is."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from ._errors import MasterSecretError

__all__ = ["MIN_MASTER_SECRET_BYTES", "MasterSecret"]

#: Below 128 bits a master secret is guessable whatever the KDF costs.
MIN_MASTER_SECRET_BYTES = 16


class MasterSecret:
    """A master secret of at least 16 bytes; `source` (a path, or a description) is what its repr and errors show."""

    __slots__ = ("_secret", "source")

    def __init__(self, secret: bytes, *, source: str = "<memory>") -> None:
        if not isinstance(secret, (bytes, bytearray)):
            raise MasterSecretError(f"master secret from {source} must be bytes, got {type(secret).__name__}")
        if not secret:
            raise MasterSecretError(f"master secret from {source} is empty")
        if len(secret) < MIN_MASTER_SECRET_BYTES:
            raise MasterSecretError(
                f"master secret from {source} is {len(secret)} bytes; at least {MIN_MASTER_SECRET_BYTES} are required"
            )
        self._secret = bytes(secret)
        self.source = source

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> MasterSecret:
        """The secret in the file at `path`, without one trailing newline (editors and `echo` add one)."""
        try:
            content = Path(path).read_bytes()
        except FileNotFoundError:
            raise MasterSecretError(f"master secret file {os.fspath(path)} does not exist") from None
        except OSError as error:
            raise MasterSecretError(f"master secret file {os.fspath(path)} cannot be read: {error.strerror}") from None
        return cls(content.removesuffix(b"\n").removesuffix(b"\r"), source=os.fspath(path))

    @classmethod
    def create_file(cls, path: str | os.PathLike[str]) -> MasterSecret:
        """Write a new random secret (32 bytes, as 64 hex digits and a newline) to a new file at `path`, readable by
        its owner only, and return it. FileExistsError rather than replace a secret that may still seal records."""
        text = secrets.token_hex(32)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(text + "\n")
        return cls(text.encode(), source=os.fspath(path))

    def to_bytes(self) -> bytes:
        """The secret's bytes, for the key derivation only. Never log, return or send them."""
        return self._secret

    def __repr__(self) -> str:
        return f"MasterSecret(source={self.source!r})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("MasterSecret cannot be pickled")

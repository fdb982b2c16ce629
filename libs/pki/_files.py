"""The three PEM files a party of the mesh holds, read as one consistent snapshot, and written atomically.

A rotation replaces files under a running process (a Kubernetes Secret volume swaps a symlink, compose bind-mounts
the host's file, `lucid-tron pki rotate` renames). The reader must never pair a new certificate with an old key:
`TlsFiles.read()` checks that the pair matches (the standard library's `ssl` loads it, no extra dependency in a
service) and reads again until two reads agree, so a half-finished rotation is seen as "not changed yet".
"""

from __future__ import annotations

import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TlsFileError", "TlsFiles", "TlsMaterial", "write_private", "write_public"]

_PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"


class TlsFileError(Exception):
    """A certificate, key or CA file is missing, unreadable, or not what it should be. The message names the file."""


@dataclass(frozen=True)
class TlsMaterial:
    """The bytes of one snapshot: this party's certificate chain and key, and the CA certificates it trusts."""

    certificate_chain: bytes
    private_key: bytes
    trusted_cas: bytes


@dataclass(frozen=True)
class TlsFiles:
    """Where this party's certificate, its key and the trusted CA bundle are."""

    certificate: Path
    key: Path
    ca: Path

    def version(self) -> tuple[tuple[int, int, int], ...]:
        """Changes whenever any of the files is replaced or rewritten (inode, size, mtime); raises TlsFileError."""
        stamps = []
        for path in (self.certificate, self.key, self.ca):
            try:
                stat = path.stat()
            except OSError as error:
                raise TlsFileError(f"{path}: {error.strerror or error.__class__.__name__}") from None
            stamps.append((stat.st_ino, stat.st_size, stat.st_mtime_ns))
        return tuple(stamps)

    def read(self, *, attempts: int = 3) -> TlsMaterial:
        """A matching certificate + key and the CA bundle; TlsFileError naming the file when that is impossible."""
        problem = "the files kept changing while being read"
        for _ in range(attempts):
            before = self.version()
            material = TlsMaterial(_read(self.certificate), _read(self.key), _read(self.ca))
            if self.version() != before:
                continue
            problem = _problem(self, material)
            if problem is None:
                return material
        raise TlsFileError(problem)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise TlsFileError(f"{path}: {error.strerror or error.__class__.__name__}") from None


def _problem(files: TlsFiles, material: TlsMaterial) -> str | None:
    if _PEM_CERTIFICATE not in material.trusted_cas:
        return f"{files.ca}: no PEM certificate in it"
    if _PEM_CERTIFICATE not in material.certificate_chain:
        return f"{files.certificate}: no PEM certificate in it"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cadata=material.trusted_cas.decode("ascii"))
        # The paths were just read and did not change between two stats; ssl only loads chains from files.
        context.load_cert_chain(files.certificate, files.key)
    except (ssl.SSLError, UnicodeDecodeError, ValueError) as error:
        return f"{files.certificate} / {files.key} / {files.ca}: cannot be used together ({error})"
    except OSError as error:
        return f"{files.certificate} / {files.key}: {error.strerror or error.__class__.__name__}"
    return None


def write_public(path: Path, data: bytes) -> None:
    """Write a certificate (mode 0644) atomically: a reader sees the old file or the new one, never a part."""
    _write(path, data, 0o644)


def write_private(path: Path, data: bytes) -> None:
    """Write a private key (mode 0600, created so: never readable by others, not even for a moment), atomically."""
    _write(path, data, 0o600)


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise

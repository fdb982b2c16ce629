"""grpc credentials from TlsFiles that follow the files: a server re-reads them on the next handshake after they
changed, a client rebuilds its credentials (its channel owner reopens the channel, see `ClientTls.changed`).

grpc Python can swap a server's certificates in place (`dynamic_ssl_server_credentials`: a fetcher called before
every handshake), but a channel's credentials are fixed when it is created: a client that should present a rotated
certificate needs a new channel. Connections already open keep the certificates they were established with.
"""

from __future__ import annotations

import logging
import time

import grpc

from ._files import TlsFileError, TlsFiles, TlsMaterial

__all__ = ["ClientTls", "channel_credentials", "server_credentials"]

log = logging.getLogger("lucid_tron.pki")


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    """Server credentials that require a client certificate issued by the CA bundle, reloaded when the files change.

    Raises TlsFileError when the files cannot be used now (a service must not start without them).
    """
    reloader = _ServerReloader(files)
    return grpc.dynamic_ssl_server_credentials(
        reloader.initial, reloader.fetch, require_client_authentication=True
    )


def channel_credentials(material: TlsMaterial) -> grpc.ChannelCredentials:
    """Credentials of a client that verifies the server against the CA bundle and presents its own certificate."""
    return grpc.ssl_channel_credentials(
        root_certificates=material.trusted_cas,
        private_key=material.private_key,
        certificate_chain=material.certificate_chain,
    )


def _server_configuration(material: TlsMaterial) -> grpc.ServerCertificateConfiguration:
    return grpc.ssl_server_certificate_configuration(
        [(material.private_key, material.certificate_chain)], root_certificates=material.trusted_cas
    )


class _ServerReloader:
    def __init__(self, files: TlsFiles) -> None:
        self._files = files
        self._version = files.version()
        self.initial = _server_configuration(files.read())
        self._last_problem: str | None = None

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """Called by grpc before every handshake: None keeps the current certificates. Never raises (grpc would fail
        the handshake): files that cannot be used keep the last good ones in force, and say why once."""
        try:
            version = self._files.version()
            if version == self._version:
                return None
            material = self._files.read()
            version = self._files.version()
        except TlsFileError as error:
            if str(error) != self._last_problem:
                self._last_problem = str(error)
                log.warning("TLS files changed but cannot be used; keeping the current certificates: %s", error)
            return None
        self._version, self._last_problem = version, None
        log.info("TLS certificates reloaded from %s", self._files.certificate.parent)
        return _server_configuration(material)


class ClientTls:
    """A client's credentials from TlsFiles. `changed()` (at most one stat per `check_interval_s`) says when the
    files were replaced by a usable set, after which `credentials` are the new ones."""

    def __init__(self, files: TlsFiles, *, check_interval_s: float = 1.0) -> None:
        self.files = files
        self._check_interval_s = check_interval_s
        self._version = files.version()
        self.credentials = channel_credentials(files.read())
        self._next_check = time.monotonic() + check_interval_s
        self._last_problem: str | None = None

    def changed(self) -> bool:
        now = time.monotonic()
        if now < self._next_check:
            return False
        self._next_check = now + self._check_interval_s
        try:
            version = self.files.version()
            if version == self._version:
                return False
            material = self.files.read()
            version = self.files.version()
        except TlsFileError as error:
            if str(error) != self._last_problem:
                self._last_problem = str(error)
                log.warning("TLS files changed but cannot be used; keeping the current certificates: %s", error)
            return False
        self._version, self._last_problem = version, None
        self.credentials = channel_credentials(material)
        log.info("TLS client certificates reloaded from %s", self.files.certificate.parent)
        return True

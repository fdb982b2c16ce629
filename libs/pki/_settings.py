"""TlsSettings: where a process finds its certificate, its key and the CA bundle, or that it runs in plaintext."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lucid_tron.config import Settings, setting

from ._files import TlsFiles

__all__ = ["DEFAULT_TLS_DIR", "TlsSettings"]

#: Where compose and k3s mount a service's folder of `lucid-tron pki` (cert.pem, key.pem, ca.pem) as a secret.
DEFAULT_TLS_DIR = Path("/run/secrets/tls")


@dataclass(frozen=True, kw_only=True)
class TlsSettings(Settings):
    """Mutual TLS for gRPC, the default: the server requires a client certificate issued by the CA bundle, and
    calls to peers present this certificate. The files are re-read when they change (no restart).

    GRPC_INSECURE_PLAINTEXT=true turns TLS off on both sides (a WARNING at start): for tests and `lucid-tron up
    --insecure-plaintext` only, never in a deployment (tests/unit/test_deploy.py checks).
    """

    tls_cert_file: Path = setting("TLS_CERT_FILE", default=DEFAULT_TLS_DIR / "cert.pem")
    tls_key_file: Path = setting("TLS_KEY_FILE", default=DEFAULT_TLS_DIR / "key.pem")
    tls_ca_file: Path = setting("TLS_CA_FILE", default=DEFAULT_TLS_DIR / "ca.pem")
    insecure_plaintext: bool = setting("GRPC_INSECURE_PLAINTEXT", default=False)

    @property
    def tls_files(self) -> TlsFiles | None:
        """This process's certificate, key and CA bundle; None in insecure plaintext mode."""
        if self.insecure_plaintext:
            return None
        return TlsFiles(self.tls_cert_file, self.tls_key_file, self.tls_ca_file)

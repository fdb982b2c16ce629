"""Mutual TLS for the ACL's tests: a real CA (lucid_tron.pki) with a certificate per principal, and channels
presenting them, so every call reaches the server over real TLS with a verified identity.

    mesh_tls(tmp)                         a CA with the seven services, beta-sidecar, a test service and operator alice
    tls.server_settings("wallet-manager")  ServiceSettings fields that make a server use that service's certificate
    tls.channel(address, "spiffe://lucid/operator/alice")   a channel presenting that principal's certificate
    tls.channel(address, NO_PRINCIPAL)     a certificate issued by the CA that names no spiffe:// URI
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lucid_tron.pki import PkiDirectory, TlsFiles

SERVICES = (
    "tron-client",
    "tron-relay",
    "wallet-manager",
    "usdt-manager",
    "staking",
    "payment-gateway",
    "payout-router",
    "beta-sidecar",
    "test-service",
)
OPERATOR = "spiffe://lucid/operator/alice"
#: A client certificate the CA issued without a URI SAN: TLS succeeds, the call has no principal.
NO_PRINCIPAL = "no-principal"


def service(name: str) -> str:
    return f"spiffe://lucid/tron/{name}"


class MeshTls:
    """Certificates for every principal the tests use, issued by one CA in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.pki = PkiDirectory(folder / "pki")
        self.pki.init_ca()
        self._files: dict[str, TlsFiles] = {service(name): self.pki.issue_service(name) for name in SERVICES}
        self._files[OPERATOR] = self.pki.issue_operator("alice")
        self._files[NO_PRINCIPAL] = self._without_uri(folder / "no-principal")

    def files(self, principal: str) -> TlsFiles:
        return self._files[principal]

    def server_settings(self, name: str = "test-service") -> dict[str, Any]:
        files = self._files[service(name)]
        return {"tls_cert_file": files.certificate, "tls_key_file": files.key, "tls_ca_file": files.ca}

    def credentials(self, principal: str) -> grpc.ChannelCredentials:
        files = self._files[principal]
        return grpc.ssl_channel_credentials(files.ca.read_bytes(), files.key.read_bytes(), files.certificate.read_bytes())

    def channel(self, address: str, principal: str) -> grpc.aio.Channel:
        return grpc.aio.secure_channel(address, self.credentials(principal))

    def _without_uri(self, folder: Path) -> TlsFiles:
        ca_certificate = x509.load_pem_x509_certificate(self.pki.ca_certificate_path.read_bytes())
        ca_key = serialization.load_pem_private_key(self.pki.ca_key_path.read_bytes(), password=None)
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "a tool without a SPIFFE id")]))
            .issuer_name(ca_certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("tool.invalid")]), critical=False)
            .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
        )
        folder.mkdir(parents=True)
        files = TlsFiles(folder / "cert.pem", folder / "key.pem", folder / "ca.pem")
        files.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        files.key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        files.ca.write_bytes(self.pki.bundle_path.read_bytes())
        return files

"""The mesh's public key infrastructure: a CA, service and operator certificates, and grpc credentials from them.

    CertificateAuthority.create() / .from_pem(cert, key)   EC P-256 CA; .issue_service(name) / .issue_operator(name)
    service_spiffe_id(name), operator_spiffe_id(name)      spiffe://lucid/tron/<service>, spiffe://lucid/operator/<name>
    PkiDirectory(path)                                     a CA and its certificates as files (`lucid-tron pki`, `up`)
    TlsSettings                                            TLS_CERT_FILE, TLS_KEY_FILE, TLS_CA_FILE,
                                                           GRPC_INSECURE_PLAINTEXT (ServiceSettings composes it)
    TlsFiles(cert, key, ca).read() -> TlsMaterial          one consistent snapshot of the three PEM files
    server_credentials(files)                              mTLS server credentials reloaded when the files change
    channel_credentials(material), ClientTls(files)        a client's credentials; ClientTls notices new files

The principal of a call is the SPIFFE ID in the caller's verified certificate: grpc puts it in the call's
auth_context as `peer_spiffe_id`. Names load their module on first use: a service never loads `cryptography`
(only `lucid-tron pki` and `up` issue certificates), and the settings group does not load grpc.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lucid_tron.lazy import lazy_exports

if TYPE_CHECKING:
    from ._authority import (
        CA_VALID_DAYS,
        LEAF_VALID_DAYS,
        CertificateAuthority,
        IssuedCertificate,
        operator_spiffe_id,
        service_spiffe_id,
        spiffe_id_of,
    )
    from ._credentials import ClientTls, channel_credentials, server_credentials
    from ._directory import PkiDirectory, PkiError
    from ._files import TlsFileError, TlsFiles, TlsMaterial
    from ._settings import DEFAULT_TLS_DIR, TlsSettings

__all__ = [
    "CA_VALID_DAYS",
    "DEFAULT_TLS_DIR",
    "LEAF_VALID_DAYS",
    "CertificateAuthority",
    "ClientTls",
    "IssuedCertificate",
    "PkiDirectory",
    "PkiError",
    "TlsFileError",
    "TlsFiles",
    "TlsMaterial",
    "TlsSettings",
    "channel_credentials",
    "operator_spiffe_id",
    "server_credentials",
    "service_spiffe_id",
    "spiffe_id_of",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        **dict.fromkeys(
            [
                "CA_VALID_DAYS",
                "LEAF_VALID_DAYS",
                "CertificateAuthority",
                "IssuedCertificate",
                "operator_spiffe_id",
                "service_spiffe_id",
                "spiffe_id_of",
            ],
            "._authority",
        ),
        **dict.fromkeys(["ClientTls", "channel_credentials", "server_credentials"], "._credentials"),
        **dict.fromkeys(["PkiDirectory", "PkiError"], "._directory"),
        **dict.fromkeys(["TlsFileError", "TlsFiles", "TlsMaterial"], "._files"),
        **dict.fromkeys(["DEFAULT_TLS_DIR", "TlsSettings"], "._settings"),
    },
)

"""A certificate authority for the mesh: EC P-256 keys, SPIFFE-style URI SANs, short-lived leaves.

Every certificate names exactly one URI SAN, the caller's identity: grpc core reads it from a verified client
certificate as `peer_spiffe_id`, the principal of the call (`spiffe://lucid/tron/<service>` for a service,
`spiffe://lucid/operator/<name>` for an operator or a tool). A service certificate is also a server certificate
(serverAuth + clientAuth, DNS names and IP addresses the callers dial); an operator's is a client certificate only.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CA_VALID_DAYS",
    "LEAF_VALID_DAYS",
    "CertificateAuthority",
    "IssuedCertificate",
    "operator_spiffe_id",
    "service_spiffe_id",
    "spiffe_id_of",
]

TRUST_DOMAIN = "lucid"
#: A CA outlives many leaf rotations; rotating it is a planned event with an overlap (see `trust_bundle`).
CA_VALID_DAYS = 3650
#: Leaves are re-issued well before this (`lucid-tron pki rotate`); a stolen key is useful for at most this long.
LEAF_VALID_DAYS = 90
# Certificates issued "now" are valid from a little earlier: hosts whose clocks differ by seconds must agree.
_BACKDATE = dt.timedelta(minutes=5)
# A SPIFFE path segment: letters, digits, '.', '-', '_' (the SPIFFE ID spec); no empty or dot-only segment.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,62}")


def service_spiffe_id(service: str) -> str:
    """`spiffe://lucid/tron/<service>`, the principal of a mesh service."""
    return f"spiffe://{TRUST_DOMAIN}/tron/{_checked_name(service, 'service')}"


def operator_spiffe_id(name: str) -> str:
    """`spiffe://lucid/operator/<name>`, the principal of an operator or a tool."""
    return f"spiffe://{TRUST_DOMAIN}/operator/{_checked_name(name, 'operator')}"


def _checked_name(name: str, what: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"{what} name must be 1-63 letters, digits, '.', '-' or '_', got {name!r}")
    return name


def spiffe_id_of(certificate_pem: bytes) -> str:
    """The one URI SAN of a certificate (ValueError if it has none or several)."""
    certificate = x509.load_pem_x509_certificate(certificate_pem)
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise ValueError("the certificate has no subject alternative name") from None
    uris = names.get_values_for_type(x509.UniformResourceIdentifier)
    if len(uris) != 1:
        raise ValueError(f"the certificate names {len(uris)} URIs, expected exactly one SPIFFE ID")
    return uris[0]


@dataclass(frozen=True)
class IssuedCertificate:
    """A leaf certificate and its new private key, both PEM; the key is unencrypted (it goes into a 0600 file)."""

    certificate_pem: bytes
    key_pem: bytes
    spiffe_id: str
    serial: int
    not_after: dt.datetime


class CertificateAuthority:
    """A CA certificate and its key. `create()` a new one or `from_pem()` one written before; `issue_*` leaves."""

    def __init__(self, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        if certificate.public_key() != key.public_key():
            raise ValueError("the CA key does not belong to the CA certificate")
        self.certificate = certificate
        self._key = key

    @classmethod
    def create(
        cls, common_name: str = "lucid-tron mesh CA", *, valid_days: int = CA_VALID_DAYS
    ) -> CertificateAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        public = key.public_key()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(public)
            .serial_number(_serial())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + dt.timedelta(days=valid_days))
            # path_length=0: this CA signs leaves only, never another CA.
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(certificate, key)

    @classmethod
    def from_pem(cls, certificate_pem: bytes, key_pem: bytes) -> CertificateAuthority:
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the CA key is not an EC key")
        return cls(x509.load_pem_x509_certificate(certificate_pem), key)

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        """The CA's private key, unencrypted PEM: write it only to a file readable by its owner alone."""
        return _private_pem(self._key)

    def issue_service(
        self,
        service: str,
        *,
        dns_names: Iterable[str] = (),
        ip_addresses: Iterable[str] = ("127.0.0.1",),
        valid_days: int = LEAF_VALID_DAYS,
        not_before: dt.datetime | None = None,
    ) -> IssuedCertificate:
        """A server+client certificate for `service`, naming DNS `service`, `localhost`, `dns_names` and the IPs.

        The service's own name is what compose and k3s peers dial (`wallet-manager:50051`); localhost and
        127.0.0.1 are what `lucid-tron up`, grpcurl and buf curl dial on one machine.
        """
        names = list(dict.fromkeys([service, "localhost", *dns_names]))
        return self._issue(
            service_spiffe_id(service),
            server=True,
            dns_names=names,
            ip_addresses=list(ip_addresses),
            valid_days=valid_days,
            not_before=not_before,
        )

    def issue_operator(
        self, name: str, *, valid_days: int = LEAF_VALID_DAYS, not_before: dt.datetime | None = None
    ) -> IssuedCertificate:
        """A client certificate for an operator or a tool (clientAuth only: it cannot serve as a service).

        `not_before` (both issuers): the start of validity, default a few minutes ago; a test of expiry backdates it.
        """
        return self._issue(
            operator_spiffe_id(name),
            server=False,
            dns_names=[],
            ip_addresses=[],
            valid_days=valid_days,
            not_before=not_before,
        )

    def _issue(
        self,
        spiffe_id: str,
        *,
        server: bool,
        dns_names: Sequence[str],
        ip_addresses: Sequence[str],
        valid_days: int,
        not_before: dt.datetime | None,
    ) -> IssuedCertificate:
        key = ec.generate_private_key(ec.SECP256R1())
        start = _now() - _BACKDATE if not_before is None else not_before
        end = start + _BACKDATE + dt.timedelta(days=valid_days)
        alternative_names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(spiffe_id)]
        alternative_names += [x509.DNSName(name) for name in dns_names]
        alternative_names += [x509.IPAddress(ipaddress.ip_address(address)) for address in ip_addresses]
        usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH] if server else [
            ExtendedKeyUsageOID.CLIENT_AUTH
        ]
        serial = _serial()
        certificate = (
            x509.CertificateBuilder()
            # The identity is the URI SAN; the CN only helps a human reading `openssl x509 -text`.
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, spiffe_id.rsplit("/", 1)[1])]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            # Critical: a verifier that does not understand SANs must refuse the certificate, not trust the CN.
            .add_extension(x509.SubjectAlternativeName(alternative_names), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        return IssuedCertificate(
            certificate.public_bytes(serialization.Encoding.PEM), _private_pem(key), spiffe_id, serial, end
        )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _serial() -> int:
    # RFC 5280: positive, at most 20 octets; 159 random bits keeps the top bit clear.
    return secrets.randbits(159) | 1


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)

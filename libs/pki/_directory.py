"""A CA and the certificates it issued, as files in one directory (what `lucid-tron pki` and `up` manage).

    <dir>/ca.pem                 the trust bundle: the current CA, then older CAs still valid (rotation overlap)
    <dir>/ca-cert.pem            the current CA's certificate (the issuer)
    <dir>/ca-key.pem             the current CA's key, mode 0600
    <dir>/services/<name>/       cert.pem, key.pem (0600), ca.pem: mount this folder as /run/secrets/tls
    <dir>/operators/<name>/      the same for an operator or a tool

Rotation: `rotate_leaf` re-issues one certificate with a new key and the same names; `rotate_ca` makes a new CA and
writes a bundle of new + old into every ca.pem, so certificates of both CAs verify while the leaves are re-issued
under the new one (`rotate_leaf` for each, or `rotate_all`). An old CA leaves the bundle when it expires, or when
`retire_old_cas` ends the overlap once every certificate was re-issued (a compromised CA key must not wait).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization

from ._authority import LEAF_VALID_DAYS, CertificateAuthority, IssuedCertificate
from ._files import TlsFiles, write_private, write_public

__all__ = ["PkiDirectory", "PkiError"]

_KINDS = ("services", "operators")


def _signed_by(certificate_pem: bytes, authority: CertificateAuthority) -> bool:
    try:
        x509.load_pem_x509_certificate(certificate_pem).verify_directly_issued_by(authority.certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


class PkiError(Exception):
    """The directory does not hold what the operation needs (no CA yet, a CA already, an unknown certificate)."""


class PkiDirectory:
    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def bundle_path(self) -> Path:
        return self.path / "ca.pem"

    @property
    def ca_key_path(self) -> Path:
        return self.path / "ca-key.pem"

    @property
    def ca_certificate_path(self) -> Path:
        return self.path / "ca-cert.pem"

    def has_ca(self) -> bool:
        return self.ca_key_path.is_file() and self.ca_certificate_path.is_file()

    def init_ca(self, common_name: str = "lucid-tron mesh CA") -> CertificateAuthority:
        """Create the CA; PkiError if one exists (rotate it instead: replacing it would strand every certificate)."""
        if self.has_ca():
            raise PkiError(f"{self.path} already holds a CA (use rotate-ca to replace it)")
        authority = CertificateAuthority.create(common_name)
        self._save_ca(authority, [authority.certificate])
        return authority

    def authority(self) -> CertificateAuthority:
        if not self.has_ca():
            raise PkiError(f"no CA in {self.path}: create one first (lucid-tron pki init)")
        return CertificateAuthority.from_pem(self.ca_certificate_path.read_bytes(), self.ca_key_path.read_bytes())

    def files(self, kind: str, name: str) -> TlsFiles:
        """Where the certificate of `name` (`kind` "services" or "operators") is, issued or not."""
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
        folder = self.path / kind / name
        return TlsFiles(folder / "cert.pem", folder / "key.pem", folder / "ca.pem")

    def issue_service(
        self,
        service: str,
        *,
        dns_names: tuple[str, ...] = (),
        ip_addresses: tuple[str, ...] = ("127.0.0.1",),
        valid_days: int = LEAF_VALID_DAYS,
    ) -> TlsFiles:
        issued = self.authority().issue_service(
            service, dns_names=dns_names, ip_addresses=ip_addresses, valid_days=valid_days
        )
        return self._save_leaf(self.files("services", service), issued)

    def issue_operator(self, name: str, *, valid_days: int = LEAF_VALID_DAYS) -> TlsFiles:
        issued = self.authority().issue_operator(name, valid_days=valid_days)
        return self._save_leaf(self.files("operators", name), issued)

    def rotate_leaf(self, kind: str, name: str, *, valid_days: int = LEAF_VALID_DAYS) -> TlsFiles:
        """Re-issue `name`'s certificate under the current CA: a new key, the same DNS names and IP addresses."""
        files = self.files(kind, name)
        if not files.certificate.is_file():
            raise PkiError(f"no certificate issued for {kind}/{name} in {self.path}")
        old = x509.load_pem_x509_certificate(files.certificate.read_bytes())
        if kind == "operators":
            return self.issue_operator(name, valid_days=valid_days)
        names = old.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = tuple(names.get_values_for_type(x509.DNSName))
        ips = tuple(str(address) for address in names.get_values_for_type(x509.IPAddress))
        return self.issue_service(name, dns_names=dns, ip_addresses=ips, valid_days=valid_days)

    def rotate_all(self, *, valid_days: int = LEAF_VALID_DAYS) -> list[TlsFiles]:
        return [self.rotate_leaf(kind, name, valid_days=valid_days) for kind, name in self.issued()]

    def rotate_ca(self, common_name: str = "lucid-tron mesh CA") -> CertificateAuthority:
        """A new CA; every ca.pem becomes new + old CAs (still valid), so both generations verify meanwhile."""
        self.authority()  # there must be one to rotate
        new = CertificateAuthority.create(common_name)
        self._save_ca(new, [new.certificate, *self._bundle()])
        return new

    def retire_old_cas(self) -> list[str]:
        """Trust only the current CA from now on; PkiError naming the certificates an old CA still signs."""
        authority = self.authority()
        stranded = [
            f"{kind}/{name}"
            for kind, name in self.issued()
            if not _signed_by(self.files(kind, name).certificate.read_bytes(), authority)
        ]
        if stranded:
            raise PkiError(f"still issued by an old CA (rotate them first): {', '.join(stranded)}")
        retired = [certificate for certificate in self._bundle() if certificate != authority.certificate]
        self._save_ca(authority, [authority.certificate])
        return [f"{certificate.serial_number:x}" for certificate in retired]

    def issued(self) -> Iterator[tuple[str, str]]:
        """(kind, name) of every certificate in the directory."""
        for kind in _KINDS:
            folder = self.path / kind
            if folder.is_dir():
                for entry in sorted(folder.iterdir()):
                    if (entry / "cert.pem").is_file():
                        yield kind, entry.name

    def _bundle(self) -> list[x509.Certificate]:
        if not self.bundle_path.is_file():
            return []
        return x509.load_pem_x509_certificates(self.bundle_path.read_bytes())

    def _save_ca(self, authority: CertificateAuthority, bundle: list[x509.Certificate]) -> None:
        now = dt.datetime.now(dt.UTC)
        seen: set[bytes] = set()
        kept = []
        for certificate in bundle:
            fingerprint = certificate.fingerprint(hashes.SHA256())
            if certificate.not_valid_after_utc > now and fingerprint not in seen:
                seen.add(fingerprint)
                kept.append(certificate)
        pem = b"".join(certificate.public_bytes(serialization.Encoding.PEM) for certificate in kept)
        self.path.mkdir(parents=True, exist_ok=True)
        self.path.chmod(0o700)
        # Key first: a crash in between leaves a new key with the old certificate, which authority() refuses
        # loudly, rather than a new certificate nobody can sign under.
        write_private(self.ca_key_path, authority.key_pem())
        write_public(self.ca_certificate_path, authority.certificate_pem)
        write_public(self.bundle_path, pem)
        for kind, name in self.issued():
            write_public(self.files(kind, name).ca, pem)

    def _save_leaf(self, files: TlsFiles, issued: IssuedCertificate) -> TlsFiles:
        files.certificate.parent.mkdir(parents=True, exist_ok=True)
        # Key before certificate: a reader that sees the pair mismatched in between keeps its last good pair.
        write_private(files.key, issued.key_pem)
        write_public(files.certificate, issued.certificate_pem)
        write_public(files.ca, self.bundle_path.read_bytes())
        return files

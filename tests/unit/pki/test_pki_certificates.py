"""The certificates `lucid-tron pki` issues: who they name, what they may be used for, how long they live, and the
files they are written to."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from lucid_tron.pki import (
    CertificateAuthority,
    PkiDirectory,
    PkiError,
    TlsFileError,
    TlsFiles,
    TlsSettings,
    spiffe_id_of,
)


@pytest.fixture(scope="module")
def authority() -> CertificateAuthority:
    return CertificateAuthority.create()


def load(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def extension(certificate: x509.Certificate, kind: type) -> object:
    return certificate.extensions.get_extension_for_class(kind).value


def test_the_ca_is_a_p256_ca_for_leaves_only_valid_ten_years(authority):
    ca = authority.certificate
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey) and ca.public_key().curve.name == "secp256r1"
    assert extension(ca, x509.BasicConstraints) == x509.BasicConstraints(ca=True, path_length=0)
    assert extension(ca, x509.KeyUsage).key_cert_sign
    lifetime = ca.not_valid_after_utc - ca.not_valid_before_utc
    assert dt.timedelta(days=3650) <= lifetime < dt.timedelta(days=3651)


def test_a_service_certificate_names_its_spiffe_id_its_dns_names_and_loopback(authority):
    issued = authority.issue_service("wallet-manager", dns_names=("wallet-manager.lucid-tron.svc",))
    names = extension(load(issued.certificate_pem), x509.SubjectAlternativeName)
    assert names.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://lucid/tron/wallet-manager"]
    assert names.get_values_for_type(x509.DNSName) == ["wallet-manager", "localhost", "wallet-manager.lucid-tron.svc"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert spiffe_id_of(issued.certificate_pem) == issued.spiffe_id == "spiffe://lucid/tron/wallet-manager"


def test_a_service_certificate_serves_and_calls_and_cannot_sign_certificates(authority):
    certificate = load(authority.issue_service("staking").certificate_pem)
    usages = extension(certificate, x509.ExtendedKeyUsage)
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert extension(certificate, x509.BasicConstraints).ca is False
    assert not extension(certificate, x509.KeyUsage).key_cert_sign


def test_an_operator_certificate_is_a_client_certificate_only(authority):
    issued = authority.issue_operator("alice")
    certificate = load(issued.certificate_pem)
    assert list(extension(certificate, x509.ExtendedKeyUsage)) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    names = extension(certificate, x509.SubjectAlternativeName)
    assert names.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://lucid/operator/alice"]
    assert names.get_values_for_type(x509.DNSName) == []


def test_leaves_live_ninety_days_from_a_few_minutes_ago_under_the_cas_signature(authority):
    certificate = load(authority.issue_operator("alice").certificate_pem)
    now = dt.datetime.now(dt.UTC)
    assert dt.timedelta(0) < now - certificate.not_valid_before_utc <= dt.timedelta(minutes=6)
    assert dt.timedelta(days=89, hours=23) < certificate.not_valid_after_utc - now <= dt.timedelta(days=90)
    certificate.verify_directly_issued_by(authority.certificate)


def test_every_certificate_gets_a_random_positive_serial_and_its_own_key(authority):
    issued = [authority.issue_operator("alice") for _ in range(20)]
    serials = {certificate.serial for certificate in issued}
    assert len(serials) == 20 and all(0 < serial < 2**159 for serial in serials)
    assert len({certificate.key_pem for certificate in issued}) == 20


@pytest.mark.parametrize("name", ["", "a/b", "spiffe://x", "white space", "." * 3, "x" * 64])
def test_a_name_that_is_not_one_spiffe_path_segment_is_refused(authority, name):
    with pytest.raises(ValueError, match="name must be"):
        authority.issue_operator(name)


def test_the_ca_key_is_written_readable_by_its_owner_only(tmp_path):
    pki = PkiDirectory(tmp_path / "pki")
    pki.init_ca()
    files = pki.issue_service("tron-relay")
    for private in (pki.ca_key_path, files.key):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(pki.path.stat().st_mode) == 0o700


def test_a_second_init_refuses_to_replace_the_ca(tmp_path):
    pki = PkiDirectory(tmp_path / "pki")
    pki.init_ca()
    with pytest.raises(PkiError, match="already holds a CA"):
        pki.init_ca()


def test_issuing_without_a_ca_says_to_create_one(tmp_path):
    with pytest.raises(PkiError, match="lucid-tron pki init"):
        PkiDirectory(tmp_path / "pki").issue_operator("alice")


def test_rotating_a_leaf_gives_a_new_key_and_serial_with_the_same_names(tmp_path):
    pki = PkiDirectory(tmp_path / "pki")
    pki.init_ca()
    before = pki.issue_service("tron-client", dns_names=("tron-client.lucid",)).read()
    after = pki.rotate_leaf("services", "tron-client").read()
    old, new = load(before.certificate_chain), load(after.certificate_chain)
    assert before.private_key != after.private_key and old.serial_number != new.serial_number
    assert extension(old, x509.SubjectAlternativeName) == extension(new, x509.SubjectAlternativeName)


def test_rotating_the_ca_puts_new_and_old_in_every_bundle_and_keeps_issuing_under_the_new(tmp_path):
    pki = PkiDirectory(tmp_path / "pki")
    old = pki.init_ca()
    alice = pki.issue_operator("alice")
    new = pki.rotate_ca()
    bundle = x509.load_pem_x509_certificates(pki.bundle_path.read_bytes())
    assert [ca.serial_number for ca in bundle] == [new.certificate.serial_number, old.certificate.serial_number]
    assert alice.ca.read_bytes() == pki.bundle_path.read_bytes()
    load(pki.issue_operator("bob").certificate.read_bytes()).verify_directly_issued_by(new.certificate)


def test_a_snapshot_of_a_key_that_does_not_match_its_certificate_is_refused(tmp_path):
    pki = PkiDirectory(tmp_path / "pki")
    pki.init_ca()
    service, alice = pki.issue_service("staking"), pki.issue_operator("alice")
    with pytest.raises(TlsFileError, match="cannot be used together"):
        TlsFiles(service.certificate, alice.key, service.ca).read()


def test_tls_is_on_by_default_with_the_files_under_run_secrets_tls():
    settings = TlsSettings()
    assert settings.tls_files == TlsFiles(
        Path("/run/secrets/tls/cert.pem"), Path("/run/secrets/tls/key.pem"), Path("/run/secrets/tls/ca.pem")
    )
    assert TlsSettings(insecure_plaintext=True).tls_files is None

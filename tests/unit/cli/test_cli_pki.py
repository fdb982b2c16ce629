"""`lucid-tron pki`: a CA and certificates as files an operator mounts as secrets, and the ones `up` issues."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509

from lucid_tron.cli import main
from lucid_tron.cli._pki import issue_mesh_certificates
from lucid_tron.pki import PkiDirectory, spiffe_id_of


def pki(state_dir: Path, *args: str) -> int:
    return main(["pki", "--state-dir", str(state_dir), *args])


def san(path: Path) -> x509.SubjectAlternativeName:
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    return certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


def test_init_then_issue_writes_a_mountable_folder_per_certificate(tmp_path, capsys):
    assert pki(tmp_path, "init") == 0
    assert pki(tmp_path, "issue-service", "wallet-manager", "--dns", "wallet-manager.lucid-tron.svc") == 0
    assert pki(tmp_path, "issue-operator", "alice") == 0
    folder = tmp_path / "pki" / "services" / "wallet-manager"
    assert sorted(path.name for path in folder.iterdir()) == ["ca.pem", "cert.pem", "key.pem"]
    assert stat.S_IMODE((folder / "key.pem").stat().st_mode) == 0o600
    assert san(folder / "cert.pem").get_values_for_type(x509.DNSName) == [
        "wallet-manager", "localhost", "wallet-manager.lucid-tron.svc"
    ]  # fmt: skip
    alice = tmp_path / "pki" / "operators" / "alice" / "cert.pem"
    assert spiffe_id_of(alice.read_bytes()) == "spiffe://lucid/operator/alice"
    assert "spiffe://lucid/operator/alice: cert" in capsys.readouterr().out


def test_a_second_init_fails_and_keeps_the_ca(tmp_path, capsys):
    assert pki(tmp_path, "init") == 0
    key = (tmp_path / "pki" / "ca-key.pem").read_bytes()
    assert pki(tmp_path, "init") == 1
    assert "already holds a CA" in capsys.readouterr().err
    assert (tmp_path / "pki" / "ca-key.pem").read_bytes() == key


def test_issuing_before_init_fails_saying_what_to_run(tmp_path, capsys):
    assert pki(tmp_path, "issue-operator", "alice") == 1
    assert "lucid-tron pki init" in capsys.readouterr().err


def test_rotate_without_names_reissues_every_certificate(tmp_path):
    assert pki(tmp_path, "init") == 0
    assert pki(tmp_path, "issue-service", "staking") == 0
    assert pki(tmp_path, "issue-operator", "alice") == 0
    paths = [tmp_path / "pki" / kind / "cert.pem" for kind in ("services/staking", "operators/alice")]
    before = [path.read_bytes() for path in paths]
    assert pki(tmp_path, "rotate") == 0
    assert all(path.read_bytes() != old for path, old in zip(paths, before, strict=True))


def test_rotate_ca_then_rotate_moves_every_certificate_to_the_new_ca(tmp_path, capsys):
    assert pki(tmp_path, "init") == 0
    assert pki(tmp_path, "issue-operator", "alice") == 0
    assert pki(tmp_path, "rotate-ca") == 0
    assert pki(tmp_path, "rotate", "operators/alice") == 0
    directory = PkiDirectory(tmp_path / "pki")
    alice = x509.load_pem_x509_certificate(directory.files("operators", "alice").certificate.read_bytes())
    alice.verify_directly_issued_by(directory.authority().certificate)
    assert pki(tmp_path, "list") == 0
    assert capsys.readouterr().out.count("trusted CA serial") == 2


def test_old_cas_are_retired_only_once_no_certificate_of_theirs_remains(tmp_path, capsys):
    assert pki(tmp_path, "init") == 0
    assert pki(tmp_path, "issue-operator", "alice") == 0
    assert pki(tmp_path, "rotate-ca") == 0
    assert pki(tmp_path, "retire-old-cas") == 1
    assert "rotate them first): operators/alice" in capsys.readouterr().err
    assert pki(tmp_path, "rotate") == 0
    assert pki(tmp_path, "retire-old-cas") == 0
    bundle = x509.load_pem_x509_certificates((tmp_path / "pki" / "operators" / "alice" / "ca.pem").read_bytes())
    assert bundle == [PkiDirectory(tmp_path / "pki").authority().certificate]


def test_rotate_refuses_a_name_that_is_not_kind_slash_name(tmp_path, capsys):
    assert pki(tmp_path, "init") == 0
    assert pki(tmp_path, "rotate", "alice") == 1
    assert "services/NAME or operators/NAME" in capsys.readouterr().err


def test_up_keeps_its_ca_between_starts_and_names_loopback_and_an_ip_host(tmp_path):
    first, _ = issue_mesh_certificates(tmp_path, ["tron-relay"], "10.1.2.3")
    ca = (tmp_path / "pki" / "ca-cert.pem").read_bytes()
    ips = [str(ip) for ip in san(first["tron-relay"].certificate).get_values_for_type(x509.IPAddress)]
    assert ips == ["127.0.0.1", "10.1.2.3"]
    second, operator = issue_mesh_certificates(tmp_path, ["tron-relay"], "0.0.0.0")
    assert (tmp_path / "pki" / "ca-cert.pem").read_bytes() == ca
    assert san(second["tron-relay"].certificate).get_values_for_type(x509.DNSName) == ["tron-relay", "localhost"]
    assert [str(ip) for ip in san(second["tron-relay"].certificate).get_values_for_type(x509.IPAddress)] == [
        "127.0.0.1"
    ]
    assert spiffe_id_of(operator.certificate.read_bytes()).startswith("spiffe://lucid/operator/")


@pytest.mark.parametrize("name", ["a b", "x/y"])
def test_a_bad_name_is_refused(tmp_path, capsys, name):
    assert pki(tmp_path, "init") == 0
    assert pki(tmp_path, "issue-operator", name) == 1
    assert "name must be" in capsys.readouterr().err

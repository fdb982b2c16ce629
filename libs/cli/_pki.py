"""`lucid-tron pki`: the mesh's CA and certificates as files, and the certificates `up` issues at each start.

    lucid-tron pki init                       create the CA (<state-dir>/pki, or --dir)
    lucid-tron pki issue-service NAME         certificate of a service: spiffe://lucid/tron/NAME, DNS NAME + localhost
    lucid-tron pki issue-operator NAME        client certificate of an operator or tool: spiffe://lucid/operator/NAME
    lucid-tron pki rotate [KIND/NAME ...]     re-issue (new key, same names); every certificate when none is named
    lucid-tron pki rotate-ca                  a new CA; every ca.pem becomes new + old, so both verify meanwhile
    lucid-tron pki retire-old-cas             end the overlap: trust the current CA only (once all were rotated)
    lucid-tron pki list                       what is issued: principal, expiry, files

`up` keeps its CA in `<state-dir>/pki` between runs (so do the operator's tools), and issues each service a fresh
certificate at every start.
"""

from __future__ import annotations

import datetime as dt
import getpass
import ipaddress
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lucid_tron.pki import PkiDirectory, TlsFiles

__all__ = ["default_operator_name", "issue_mesh_certificates", "pki_directory", "run_pki"]


def pki_directory(state_dir: Path) -> Path:
    return state_dir / "pki"


def default_operator_name() -> str:
    """The name on the operator certificate `up` issues: the login name, when it is a valid SPIFFE path segment."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        return "operator"
    return name if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,62}", name) else "operator"


def issue_mesh_certificates(
    state_dir: Path, services: Iterable[str], host: str
) -> tuple[dict[str, TlsFiles], TlsFiles]:
    """`up`'s certificates: the CA (created once), one certificate per service naming localhost, 127.0.0.1 and the
    listen host when it is an address, and the operator's; (service -> files, operator's files)."""
    from lucid_tron.pki import PkiDirectory

    pki = PkiDirectory(pki_directory(state_dir))
    if not pki.has_ca():
        pki.init_ca()
    addresses = ["127.0.0.1"]
    if _is_address(host) and not ipaddress.ip_address(host.strip("[]")).is_unspecified:
        addresses.append(host.strip("[]"))
    issued = {name: pki.issue_service(name, ip_addresses=tuple(dict.fromkeys(addresses))) for name in services}
    return issued, pki.issue_operator(default_operator_name())


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def run_pki(
    directory: Path,
    command: str,
    *,
    name: str | None = None,
    targets: Iterable[str] = (),
    dns_names: Iterable[str] = (),
    ip_addresses: Iterable[str] = ("127.0.0.1",),
    days: int = 90,
) -> int:
    """Run one `lucid-tron pki` command on `directory`; prints what it wrote. 0, or 1 with the reason on stderr."""
    from lucid_tron.pki import PkiDirectory, PkiError

    pki = PkiDirectory(directory)
    try:
        if command == "init":
            pki.init_ca()
            _say(f"CA created: {pki.ca_certificate_path} (key {pki.ca_key_path}, mode 0600)")
            _say(f"trust bundle: {pki.bundle_path}")
        elif command == "issue-service":
            assert name is not None
            dns, ips = tuple(dns_names), tuple(ip_addresses)
            _written(pki.issue_service(name, dns_names=dns, ip_addresses=ips, valid_days=days))
        elif command == "issue-operator":
            assert name is not None
            _written(pki.issue_operator(name, valid_days=days))
        elif command == "rotate":
            chosen = [_kind_and_name(target) for target in targets] or list(pki.issued())
            for kind, leaf in chosen:
                _written(pki.rotate_leaf(kind, leaf, valid_days=days))
        elif command == "rotate-ca":
            pki.rotate_ca()
            _say(f"new CA {pki.ca_certificate_path}; {pki.bundle_path} and every ca.pem trust the new and the old CA")
            _say("next: `lucid-tron pki rotate` re-issues every certificate under the new CA")
        elif command == "retire-old-cas":
            retired = pki.retire_old_cas()
            _say(f"retired {len(retired)} old CA(s) {', '.join(retired)}; every ca.pem trusts the current CA only")
        elif command == "list":
            _list(pki)
        else:
            raise ValueError(f"unknown pki command {command!r}")
    except (PkiError, ValueError) as error:
        print(f"lucid-tron pki: {error}", file=sys.stderr)
        return 1
    return 0


def _kind_and_name(target: str) -> tuple[str, str]:
    kind, _, name = target.partition("/")
    if kind not in ("services", "operators") or not name:
        raise ValueError(f"name a certificate as services/NAME or operators/NAME, got {target!r}")
    return kind, name


def _written(files: TlsFiles) -> None:
    from lucid_tron.pki import spiffe_id_of

    principal = spiffe_id_of(files.certificate.read_bytes())
    _say(f"{principal}: cert {files.certificate}, key {files.key} (0600), CA bundle {files.ca}")


def _list(pki: PkiDirectory) -> None:
    from cryptography import x509

    from lucid_tron.pki import spiffe_id_of

    now = dt.datetime.now(dt.UTC)
    for ca in x509.load_pem_x509_certificates(pki.bundle_path.read_bytes()):
        _say(f"trusted CA serial {ca.serial_number:x}, expires {ca.not_valid_after_utc:%Y-%m-%d}")
    for kind, name in pki.issued():
        files = pki.files(kind, name)
        pem = files.certificate.read_bytes()
        expires = x509.load_pem_x509_certificate(pem).not_valid_after_utc
        _say(f"{spiffe_id_of(pem)}  expires {expires:%Y-%m-%d} ({(expires - now).days} days)  {files.certificate}")


def _say(message: str) -> None:
    print(f"lucid-tron pki: {message}", flush=True)

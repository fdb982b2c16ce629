"""The master secret file: read without its trailing newline, refused when empty or short with a message that names
the file and never the content; never shown or pickled."""

from __future__ import annotations

import os
import pickle
import stat
from pathlib import Path

import pytest

from lucid_tron.keys import KeyCustodyError, MasterSecret, MasterSecretError

SECRET = b"correct horse battery staple 42"


def test_the_file_is_read_without_its_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "wallet_master_key"
    path.write_bytes(SECRET + b"\n")
    assert MasterSecret.from_file(path).to_bytes() == SECRET


def test_a_windows_line_ending_is_dropped_too(tmp_path: Path) -> None:
    path = tmp_path / "wallet_master_key"
    path.write_bytes(SECRET + b"\r\n")
    assert MasterSecret.from_file(path).to_bytes() == SECRET


def test_inner_whitespace_is_part_of_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "wallet_master_key"
    path.write_bytes(b" " + SECRET + b" \n")
    assert MasterSecret.from_file(path).to_bytes() == b" " + SECRET + b" "


@pytest.mark.parametrize("content", [b"", b"\n", b"fifteen bytes!!", b"fifteen bytes!!\n"])
def test_an_empty_or_short_secret_is_refused_naming_the_file_not_the_content(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "wallet_master_key"
    path.write_bytes(content)
    with pytest.raises(MasterSecretError) as raised:
        MasterSecret.from_file(path)
    assert str(path) in str(raised.value)
    assert "fifteen" not in str(raised.value)


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(MasterSecretError, match="does not exist") as raised:
        MasterSecret.from_file(tmp_path / "absent")
    assert str(tmp_path / "absent") in str(raised.value)
    assert isinstance(raised.value, KeyCustodyError)


def test_an_unreadable_path_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(MasterSecretError, match="cannot be read"):
        MasterSecret.from_file(tmp_path)


def test_the_repr_names_the_source_only(tmp_path: Path) -> None:
    path = tmp_path / "wallet_master_key"
    path.write_bytes(SECRET)
    secret = MasterSecret.from_file(path)
    assert repr(secret) == str(secret) == f"MasterSecret(source={str(path)!r})"


def test_a_master_secret_cannot_be_pickled() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(MasterSecret(SECRET))


def test_create_file_writes_a_random_secret_only_its_owner_can_read(tmp_path: Path) -> None:
    path = tmp_path / "wallet_master_key"
    created = MasterSecret.create_file(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert MasterSecret.from_file(path).to_bytes() == created.to_bytes()
    assert len(created.to_bytes()) == 64
    assert MasterSecret.create_file(tmp_path / "other").to_bytes() != created.to_bytes()


def test_create_file_never_replaces_an_existing_secret(tmp_path: Path) -> None:
    path = tmp_path / "wallet_master_key"
    path.write_bytes(SECRET)
    with pytest.raises(FileExistsError):
        MasterSecret.create_file(path)
    assert path.read_bytes() == SECRET

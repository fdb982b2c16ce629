"""Endpoint secrets sealed at rest: AES-256-GCM, bound to their endpoint, opened by the key that sealed them or a
previous one, and told apart from what needs sealing again."""

from __future__ import annotations

import base64
import os

import pytest

from lucid_tron.webhooks import SealingError, SecretSealer
from lucid_tron.webhooks._sealing import SEALED_PREFIX, parse_key

SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()


def test_a_sealed_secret_opens_to_itself_and_shows_nothing_of_it() -> None:
    sealer = SecretSealer(os.urandom(32))
    stored = sealer.seal(SECRET, "whe_1")

    assert stored.startswith(SEALED_PREFIX) and SECRET not in stored and SECRET[6:] not in stored
    assert sealer.open(stored, "whe_1") == SECRET


def test_each_seal_draws_a_new_nonce() -> None:
    sealer = SecretSealer(os.urandom(32))

    assert sealer.seal(SECRET, "whe_1") != sealer.seal(SECRET, "whe_1")


def test_a_sealed_secret_copied_to_another_endpoint_does_not_open() -> None:
    sealer = SecretSealer(os.urandom(32))

    with pytest.raises(SealingError):
        sealer.open(sealer.seal(SECRET, "whe_1"), "whe_2")


def test_an_altered_sealed_secret_does_not_open() -> None:
    sealer = SecretSealer(os.urandom(32))
    stored = sealer.seal(SECRET, "whe_1")
    altered = stored[:-4] + ("AAAA" if not stored.endswith("AAAA") else "BBBB")

    with pytest.raises(SealingError):
        sealer.open(altered, "whe_1")


def test_after_a_key_rotation_the_previous_key_still_opens_and_only_the_new_one_is_current() -> None:
    old, new = os.urandom(32), os.urandom(32)
    stored = SecretSealer(old).seal(SECRET, "whe_1")
    rotated = SecretSealer(new, [old])

    assert rotated.open(stored, "whe_1") == SECRET
    assert not rotated.is_current(stored) and rotated.is_current(rotated.seal(SECRET, "whe_1"))


def test_a_secret_sealed_under_a_key_no_longer_configured_does_not_open() -> None:
    stored = SecretSealer(os.urandom(32)).seal(SECRET, "whe_1")

    with pytest.raises(SealingError, match="not configured"):
        SecretSealer(os.urandom(32)).open(stored, "whe_1")


def test_without_a_key_secrets_are_stored_as_they_are_and_a_key_makes_them_not_current() -> None:
    unsealed = SecretSealer(None)

    assert unsealed.seal(SECRET, "whe_1") == SECRET and unsealed.is_current(SECRET)
    assert not SecretSealer(os.urandom(32)).is_current(SECRET)
    assert SecretSealer(os.urandom(32)).open(SECRET, "whe_1") == SECRET


@pytest.mark.parametrize("text", ["", "not base64!", base64.b64encode(b"short").decode()])
def test_a_key_that_is_not_base64_of_32_bytes_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_key(text)


def test_a_key_is_read_in_standard_or_url_safe_base64() -> None:
    key = bytes(range(250, 256)) * 5 + b"ab"

    assert parse_key(base64.b64encode(key).decode()) == key == parse_key(base64.urlsafe_b64encode(key).decode())

"""HD keys on TRON's BIP-44 path m/44'/195'/account'/0/index: published vectors, path bounds, secrets kept out of
reprs and pickles; single keys from bytes or hex."""

from __future__ import annotations

import pickle

import pytest

from lucid_tron.chain import PrivateKey
from lucid_tron.keys import (
    HdSecret,
    InvalidDerivation,
    InvalidMnemonic,
    InvalidPrivateKey,
    KeyCustodyError,
    single_key,
    tron_path,
)

ABOUT = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"

# The BIP-39 test mnemonic on TRON's path: (0, 0) is the address published for it; all three are what bip_utils, an
# independent implementation, derives (test_keys_hd_crosscheck.py checks it against bip_utils at run time).
ABOUT_ADDRESSES = {
    (0, 0): "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH",
    (0, 1): "TSeJkUh4Qv67VNFwY8LaAxERygNdy6NQZK",
    (1, 0): "TLrpNTBuCpGMrB9TyVwgEhNVRhtWEQPHh4",
}


@pytest.mark.parametrize(("account", "index"), sorted(ABOUT_ADDRESSES))
def test_the_bip39_test_mnemonic_derives_the_published_tron_address(account: int, index: int) -> None:
    assert HdSecret.from_mnemonic(ABOUT).address(account, index) == ABOUT_ADDRESSES[(account, index)]


def test_key_and_address_agree() -> None:
    secret = HdSecret.from_mnemonic(ABOUT)
    key = secret.key(0, 0)
    assert isinstance(key, PrivateKey)
    assert key.address == secret.address(0, 0)


def test_the_account_node_cache_does_not_mix_accounts() -> None:
    secret = HdSecret.from_mnemonic(ABOUT)
    in_order = [secret.address(account, index) for account, index in sorted(ABOUT_ADDRESSES)]
    fresh = HdSecret.from_mnemonic(ABOUT)
    backwards = [fresh.address(account, index) for account, index in sorted(ABOUT_ADDRESSES, reverse=True)]
    assert in_order == list(reversed(backwards)) == [ABOUT_ADDRESSES[pair] for pair in sorted(ABOUT_ADDRESSES)]


def test_a_passphrase_opens_a_different_wallet() -> None:
    assert HdSecret.from_mnemonic(ABOUT, "TREZOR").address(0, 0) != ABOUT_ADDRESSES[(0, 0)]


def test_the_phrase_is_checked_first() -> None:
    with pytest.raises(InvalidMnemonic):
        HdSecret.from_mnemonic(ABOUT.replace("about", "abandon"))


def test_the_path_is_bip44_with_coin_type_195_and_a_hardened_account() -> None:
    assert tron_path(0, 0) == "m/44'/195'/0'/0/0"
    assert tron_path(3, 2**31 - 1) == "m/44'/195'/3'/0/2147483647"


@pytest.mark.parametrize(("account", "index"), [(-1, 0), (0, -1), (2**31, 0), (0, 2**31), (True, 0), (0, 1.0)])
def test_an_account_or_index_outside_the_unhardened_range_is_refused(account: int, index: int) -> None:
    secret = HdSecret.from_mnemonic(ABOUT)
    with pytest.raises(InvalidDerivation):
        secret.key(account, index)
    with pytest.raises(InvalidDerivation):
        tron_path(account, index)
    assert issubclass(InvalidDerivation, ValueError)


def test_the_repr_shows_the_fingerprint_only() -> None:
    secret = HdSecret.from_mnemonic(ABOUT)
    assert repr(secret) == str(secret) == "HdSecret(fingerprint='73c5da0a')"


def test_an_hd_secret_cannot_be_pickled() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(HdSecret.from_mnemonic(ABOUT))


def test_a_seed_of_a_length_bip32_does_not_allow_is_refused() -> None:
    with pytest.raises(InvalidPrivateKey):
        HdSecret.from_seed(bytes(15))


KEY_HEX = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


def test_a_single_key_reads_raw_bytes_and_hex_alike() -> None:
    from_hex = single_key(KEY_HEX)
    assert single_key(bytes.fromhex(KEY_HEX)) == from_hex
    assert single_key("0x" + KEY_HEX.upper()) == from_hex
    assert single_key(KEY_HEX + "\n") == from_hex


@pytest.mark.parametrize(
    "raw",
    [
        bytes(32),
        (0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141).to_bytes(32, "big"),
        bytes(31),
        KEY_HEX[:-1],
        KEY_HEX[:-1] + "g",
        "",
        12345,
    ],
)
def test_a_value_that_is_not_a_key_in_range_is_refused_without_being_repeated(raw: object) -> None:
    with pytest.raises(InvalidPrivateKey) as raised:
        single_key(raw)  # type: ignore[arg-type]
    assert isinstance(raised.value, KeyCustodyError)
    assert isinstance(raised.value, ValueError)
    assert KEY_HEX[:-1] not in str(raised.value)

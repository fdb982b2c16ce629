"""Derivation agrees with bip_utils, an independent BIP-39/BIP-32/BIP-44 implementation (a test dependency only), for
random mnemonics of every length, passphrases, accounts and indexes."""

from __future__ import annotations

from bip_utils import Bip39SeedGenerator, Bip44, Bip44Changes, Bip44Coins
from hypothesis import given, settings
from hypothesis import strategies as st
from mnemonic import Mnemonic

from lucid_tron.keys import MNEMONIC_WORD_COUNTS, HdSecret

ABOUT = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


def bip_utils_address(phrase: str, passphrase: str, account: int, index: int) -> str:
    seed = Bip39SeedGenerator(phrase).Generate(passphrase)
    node = Bip44.FromSeed(seed, Bip44Coins.TRON).Purpose().Coin().Account(account)
    return node.Change(Bip44Changes.CHAIN_EXT).AddressIndex(index).PublicKey().ToAddress()


def test_bip_utils_agrees_on_the_published_vector() -> None:
    assert bip_utils_address(ABOUT, "", 0, 0) == "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH"


mnemonics = st.builds(
    lambda words, entropy: Mnemonic("english").to_mnemonic(entropy[: words * 4 // 3]),
    st.sampled_from(MNEMONIC_WORD_COUNTS),
    st.binary(min_size=32, max_size=32),
)
levels = st.one_of(st.integers(0, 3), st.integers(0, 2**31 - 1))


@settings(max_examples=60, deadline=None)
@given(
    phrase=mnemonics,
    passphrase=st.one_of(st.just(""), st.text(max_size=24)),
    account=levels,
    index=levels,
)
def test_every_derived_address_matches_bip_utils(phrase: str, passphrase: str, account: int, index: int) -> None:
    ours = HdSecret.from_mnemonic(phrase, passphrase)
    assert ours.address(account, index) == bip_utils_address(phrase, passphrase, account, index)


@settings(max_examples=10, deadline=None)
@given(phrase=mnemonics, indexes=st.lists(st.integers(0, 2**31 - 1), min_size=2, max_size=6))
def test_consecutive_derivations_from_one_secret_match_bip_utils(phrase: str, indexes: list[int]) -> None:
    ours = HdSecret.from_mnemonic(phrase)
    assert [ours.address(1, index) for index in indexes] == [bip_utils_address(phrase, "", 1, i) for i in indexes]

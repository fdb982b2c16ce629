"""BIP-39 mnemonics: generated at every allowed length, checked and normalised, refused with the position of a bad
word but never the word."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mnemonic import Mnemonic

from lucid_tron.keys import MNEMONIC_WORD_COUNTS, InvalidMnemonic, KeyCustodyError, check_mnemonic, new_mnemonic

ABOUT = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


@pytest.mark.parametrize("words", MNEMONIC_WORD_COUNTS)
def test_a_new_mnemonic_has_the_asked_number_of_words_and_checks(words: int) -> None:
    phrase = new_mnemonic(words)
    assert len(phrase.split(" ")) == words
    assert check_mnemonic(phrase) == phrase


def test_a_new_mnemonic_has_24_words_by_default() -> None:
    assert len(new_mnemonic().split()) == 24


def test_two_new_mnemonics_differ() -> None:
    assert new_mnemonic() != new_mnemonic()


@pytest.mark.parametrize("words", [0, 11, 13, 25, 48, True])
def test_a_mnemonic_length_bip39_does_not_define_is_refused(words: int) -> None:
    with pytest.raises(InvalidMnemonic) as raised:
        new_mnemonic(words)
    assert raised.value.reason == "WRONG_WORD_COUNT"


def test_invalid_mnemonic_is_a_value_error_and_a_key_custody_error() -> None:
    assert issubclass(InvalidMnemonic, ValueError)
    assert issubclass(InvalidMnemonic, KeyCustodyError)


def test_whitespace_and_capitals_are_normalised() -> None:
    typed = "  Abandon\tabandon abandon  abandon abandon abandon\nabandon abandon abandon abandon ABANDON about \n"
    assert check_mnemonic(typed) == ABOUT


def test_a_compatibility_form_is_normalised_to_nfkd() -> None:
    # U+FF41 FULLWIDTH LATIN SMALL LETTER A folds to "a" under NFKD.
    assert check_mnemonic(ABOUT.replace("about", "\uff41bout")) == ABOUT


def test_a_wrong_word_count_is_refused() -> None:
    with pytest.raises(InvalidMnemonic) as raised:
        check_mnemonic(" ".join(ABOUT.split()[:11]))
    assert raised.value.reason == "WRONG_WORD_COUNT"
    assert "11" in raised.value.message


def test_an_unknown_word_is_named_by_position_not_by_the_word() -> None:
    phrase = ABOUT.replace("about", "zebraz")
    with pytest.raises(InvalidMnemonic) as raised:
        check_mnemonic(phrase)
    assert raised.value.reason == "UNKNOWN_WORD"
    assert "word 12 is" in str(raised.value)
    assert "zebraz" not in str(raised.value)
    assert "abandon" not in str(raised.value)


def test_several_unknown_words_are_all_named_by_position() -> None:
    words = ABOUT.split()
    words[2], words[6] = "qwerty", "asdfgh"
    with pytest.raises(InvalidMnemonic, match=r"words 3, 7 are"):
        check_mnemonic(" ".join(words))


def test_a_bad_checksum_is_refused_without_repeating_the_words() -> None:
    phrase = ABOUT.replace("about", "abandon")
    with pytest.raises(InvalidMnemonic) as raised:
        check_mnemonic(phrase)
    assert raised.value.reason == "BAD_CHECKSUM"
    assert "abandon" not in str(raised.value)


def test_a_mnemonic_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(InvalidMnemonic) as raised:
        check_mnemonic(ABOUT.encode())  # type: ignore[arg-type]
    assert raised.value.reason == "NOT_A_STRING"


# Words of the English list that none of InvalidMnemonic's messages uses, so finding one in a message means that the
# message repeated the phrase.
_MESSAGE_WORDS = {"list", "match", "order", "word", "wrong"}
_PHRASE_WORDS = [word for word in Mnemonic("english").wordlist if word not in _MESSAGE_WORDS]


@settings(max_examples=200)
@given(
    words=st.lists(st.sampled_from(_PHRASE_WORDS), min_size=1, max_size=30),
    junk=st.lists(st.text(alphabet="qxzjkv", min_size=9, max_size=12), max_size=3),
)
def test_no_refusal_repeats_a_word_of_the_phrase(words: list[str], junk: list[str]) -> None:
    phrase = " ".join(words + junk)
    try:
        check_mnemonic(phrase)
    except InvalidMnemonic as refused:
        tokens = set(str(refused).replace(",", " ").replace("(", " ").replace(")", " ").split())
        assert tokens.isdisjoint(words + junk)

"""BIP-39 mnemonics in the English word list (trezor's `mnemonic`): generate, and check what a person typed.

A checked phrase is canonical: NFKD, lower case, single spaces. The seed is computed from that form, so a phrase typed
with extra spaces or capitals opens the same wallet (the English list is lower-case ASCII, so nothing else changes).
"""

from __future__ import annotations

import unicodedata

from mnemonic import Mnemonic

from ._errors import InvalidMnemonic

__all__ = ["MNEMONIC_WORD_COUNTS", "check_mnemonic", "new_mnemonic"]

#: The lengths BIP-39 defines: 128 to 256 bits of entropy in steps of 32, plus a checksum bit per 32.
MNEMONIC_WORD_COUNTS = (12, 15, 18, 21, 24)

_ENGLISH = Mnemonic("english")
_WORD_INDEX = {word: index for index, word in enumerate(_ENGLISH.wordlist)}


def new_mnemonic(words: int = 24) -> str:
    """A fresh mnemonic of `words` words from the operating system's CSPRNG (24 words: 256 bits of entropy)."""
    if isinstance(words, bool) or words not in MNEMONIC_WORD_COUNTS:
        raise InvalidMnemonic(
            f"a mnemonic has 12, 15, 18, 21 or 24 words, not {words!r}", reason="WRONG_WORD_COUNT"
        )
    return _ENGLISH.generate(strength=words * 32 // 3)


def check_mnemonic(phrase: str) -> str:
    """`phrase` in canonical form, or InvalidMnemonic saying what is wrong (a word by its position, never the word)."""
    if not isinstance(phrase, str):
        raise InvalidMnemonic(f"a mnemonic must be a string, got {type(phrase).__name__}", reason="NOT_A_STRING")
    words = unicodedata.normalize("NFKD", phrase).lower().split()
    if len(words) not in MNEMONIC_WORD_COUNTS:
        raise InvalidMnemonic(
            f"a mnemonic has 12, 15, 18, 21 or 24 words, got {len(words)}", reason="WRONG_WORD_COUNT"
        )
    unknown = [position for position, word in enumerate(words, start=1) if word not in _WORD_INDEX]
    if unknown:
        which = f"word {unknown[0]} is" if len(unknown) == 1 else f"words {', '.join(map(str, unknown))} are"
        raise InvalidMnemonic(
            f"{which} not in the BIP-39 English word list ({len(words)} words given)", reason="UNKNOWN_WORD"
        )
    canonical = " ".join(words)
    if not _ENGLISH.check(canonical):
        raise InvalidMnemonic(
            "the mnemonic's checksum does not match: a word is wrong or out of order", reason="BAD_CHECKSUM"
        )
    return canonical

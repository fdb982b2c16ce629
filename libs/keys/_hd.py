"""TRON keys from a BIP-39 mnemonic (BIP-32 over coincurve, path m/44'/195'/account'/0/index), and single keys.

Deriving an address walks five levels, three of them hardened; the first four depend only on the account, so the node
at m/44'/195'/account'/0 is kept per account and each address costs one unhardened step (bench: `python -m bench.keys`).
"""

from __future__ import annotations

from bip32 import BIP32
from mnemonic import Mnemonic

from lucid_tron.chain import InvalidKey, PrivateKey

from ._errors import InvalidDerivation, InvalidPrivateKey
from ._mnemonic import check_mnemonic

__all__ = ["TRON_COIN_TYPE", "HdSecret", "single_key", "tron_path"]

#: SLIP-44 coin type of TRON.
TRON_COIN_TYPE = 195
_HARDENED = 0x80000000
_EXTERNAL_CHAIN = 0
# BIP-32 allows seeds of 128 to 512 bits; a BIP-39 seed is always 512.
_SEED_LENGTHS = range(16, 65)


def _check_level(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidDerivation(f"{name} must be an integer, got {type(value).__name__}")
    if not 0 <= value < _HARDENED:
        raise InvalidDerivation(f"{name} must be in [0, 2**31), got {value}")
    return value


def tron_path(account: int, index: int) -> str:
    """The BIP-44 path of TRON address `index` of `account`: m/44'/195'/account'/0/index."""
    account, index = _check_level("account", account), _check_level("index", index)
    return f"m/44'/{TRON_COIN_TYPE}'/{account}'/{_EXTERNAL_CHAIN}/{index}"


class HdSecret:
    """The root of an HD wallet. Its repr shows only the BIP-32 fingerprint of the master public key."""

    __slots__ = ("_root", "_chains")

    def __init__(self, root: BIP32) -> None:
        self._root = root
        # Node m/44'/195'/account'/0 by account: a wallet uses a handful of accounts, so the map stays small.
        self._chains: dict[int, BIP32] = {}

    @classmethod
    def from_mnemonic(cls, phrase: str, passphrase: str = "") -> HdSecret:
        """The wallet of a BIP-39 mnemonic and optional passphrase (InvalidMnemonic for a phrase that is not one)."""
        canonical = check_mnemonic(phrase)
        if not isinstance(passphrase, str):
            raise TypeError(f"passphrase must be a string, got {type(passphrase).__name__}")
        return cls.from_seed(Mnemonic.to_seed(canonical, passphrase))

    @classmethod
    def from_seed(cls, seed: bytes) -> HdSecret:
        """The wallet of a BIP-32 seed (16 to 64 bytes; BIP-39 seeds are 64)."""
        if not isinstance(seed, (bytes, bytearray)) or len(seed) not in _SEED_LENGTHS:
            raise InvalidPrivateKey("a BIP-32 seed must be 16 to 64 bytes")
        return cls(BIP32.from_seed(bytes(seed)))

    @property
    def fingerprint(self) -> str:
        """The BIP-32 fingerprint of the master public key, 8 hex digits: names a wallet without revealing it."""
        return self._root.get_fingerprint().hex()

    def key(self, account: int, index: int) -> PrivateKey:
        """The private key at m/44'/195'/account'/0/index."""
        chain = self._external_chain(_check_level("account", account))
        return PrivateKey(chain.get_privkey_from_path([_check_level("index", index)]))

    def address(self, account: int, index: int) -> str:
        """The base58 address at m/44'/195'/account'/0/index."""
        return self.key(account, index).address

    def _external_chain(self, account: int) -> BIP32:
        chain = self._chains.get(account)
        if chain is None:
            path = [44 | _HARDENED, TRON_COIN_TYPE | _HARDENED, account | _HARDENED, _EXTERNAL_CHAIN]
            chaincode, secret = self._root.get_extended_privkey_from_path(path)
            chain = BIP32(chaincode, secret, depth=len(path))
            self._chains[account] = chain
        return chain

    def __repr__(self) -> str:
        return f"HdSecret(fingerprint={self.fingerprint!r})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would copy the seed into caches, queues or crash dumps without anyone deciding to.
        raise TypeError("HdSecret cannot be pickled; seal its mnemonic with a Vault instead")


def single_key(raw: bytes | str) -> PrivateKey:
    """A single private key from 32 raw bytes or 64 hex digits (optional 0x; surrounding whitespace, such as a secret
    file's trailing newline, is ignored). InvalidPrivateKey when it is not a key in [1, n-1]."""
    try:
        if isinstance(raw, str):
            return PrivateKey.from_hex(raw.strip())
        if isinstance(raw, (bytes, bytearray, memoryview)):
            return PrivateKey(bytes(raw))
    except InvalidKey as error:
        raise InvalidPrivateKey(error.message) from None
    raise InvalidPrivateKey(f"a private key is 32 bytes or 64 hex digits, got {type(raw).__name__}")

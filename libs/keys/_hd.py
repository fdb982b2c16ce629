"""TRON keys from a BIP-39 mnemonic (BIP-32 over coincurve, path m/44'/195'/account'/0/index), and single keys.

Deriving an address walks five levels, three of them hardened; the first four depend only on the account, so the node
at m/44'/195'/account'/0 is kept per account and each address costs one unhardened step (bench: `python -m bench.keys`).

BIP-32's private derivation is written here, over coincurve and hmac, because neither library that offers it fits:
`bip32`, the one maintained BIP-32 library over coincurve, declares coincurve<21, and 21 is the only coincurve with
wheels for Python 3.13 (the images' Debian 13 Python); bip_utils costs +23 MiB RSS and 0.5 s of import on a Pi. It is
the spec's CKDpriv and nothing else (no public derivation, no serialization); tests/unit/keys checks it against the
spec's test vectors 1 and 2 and against bip_utils.
"""

from __future__ import annotations

import hashlib
import hmac

import coincurve
from Crypto.Hash import RIPEMD160
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
_MASTER_HMAC_KEY = b"Bitcoin seed"


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


class ExtendedPrivateKey:
    """A BIP-32 extended private key (k, c): the node a path leads to. Its repr shows only its depth.

    Not part of the package's face: HdSecret is. Tests use it to walk the spec's vectors, whose paths are not TRON's.
    """

    __slots__ = ("_key", "chain_code", "depth", "_public")

    def __init__(self, key: coincurve.PrivateKey, chain_code: bytes, depth: int) -> None:
        self._key = key
        self.chain_code = chain_code
        self.depth = depth
        self._public: bytes | None = None

    @classmethod
    def from_seed(cls, seed: bytes) -> ExtendedPrivateKey:
        """The master node: I = HMAC-SHA512(key="Bitcoin seed", seed), k = I_L, c = I_R."""
        digest = hmac.digest(_MASTER_HMAC_KEY, seed, "sha512")
        try:
            key = coincurve.PrivateKey(digest[:32])
        except ValueError:
            # I_L is 0 or >= n: BIP-32 says the master key is invalid and another seed must be used.
            raise InvalidDerivation("this seed gives no valid BIP-32 master key (probability below 2**-127)") from None
        return cls(key, digest[32:], 0)

    @property
    def secret(self) -> bytes:
        """k, 32 bytes big-endian."""
        return self._key.secret

    @property
    def public_key(self) -> bytes:
        """serP(point(k)): the compressed public key, computed once (every unhardened child needs it)."""
        if self._public is None:
            self._public = self._key.public_key.format(compressed=True)
        return self._public

    @property
    def fingerprint(self) -> bytes:
        """The first 4 bytes of HASH160(serP(point(k))) = RIPEMD160(SHA256(...))."""
        # pycryptodome's RIPEMD160: hashlib has it only where OpenSSL still ships it (OpenSSL 3 moved it to "legacy").
        return RIPEMD160.new(hashlib.sha256(self.public_key).digest()).digest()[:4]

    def child(self, index: int) -> ExtendedPrivateKey:
        """CKDpriv((k, c), index): hardened from index 2**31 up (HMAC of 0x00 || k), normal below (HMAC of serP)."""
        data = b"\x00" + self._key.secret if index >= _HARDENED else self.public_key
        digest = hmac.digest(self.chain_code, data + index.to_bytes(4, "big"), "sha512")
        try:
            # k_i = I_L + k (mod n); fails when I_L >= n or k_i = 0, the cases BIP-32 says to skip.
            key = self._key.add(digest[:32])
        except ValueError:
            raise InvalidDerivation(
                f"BIP-32 child {index} is invalid (probability below 2**-127); the spec says to use the next index"
            ) from None
        return ExtendedPrivateKey(key, digest[32:], self.depth + 1)

    def path(self, indexes: list[int]) -> ExtendedPrivateKey:
        """The node `indexes` below this one (each already carrying the hardened bit where wanted)."""
        node = self
        for index in indexes:
            node = node.child(index)
        return node

    def __repr__(self) -> str:
        return f"ExtendedPrivateKey(depth={self.depth})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("an extended private key cannot be pickled")


class HdSecret:
    """The root of an HD wallet. Its repr shows only the BIP-32 fingerprint of the master public key."""

    __slots__ = ("_root", "_chains")

    def __init__(self, root: ExtendedPrivateKey) -> None:
        self._root = root
        # Node m/44'/195'/account'/0 by account: a wallet uses a handful of accounts, so the map stays small.
        self._chains: dict[int, ExtendedPrivateKey] = {}

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
        return cls(ExtendedPrivateKey.from_seed(bytes(seed)))

    @property
    def fingerprint(self) -> str:
        """The BIP-32 fingerprint of the master public key, 8 hex digits: names a wallet without revealing it."""
        return self._root.fingerprint.hex()

    def key(self, account: int, index: int) -> PrivateKey:
        """The private key at m/44'/195'/account'/0/index."""
        chain = self._external_chain(_check_level("account", account))
        return PrivateKey(chain.child(_check_level("index", index)).secret)

    def address(self, account: int, index: int) -> str:
        """The base58 address at m/44'/195'/account'/0/index."""
        return self.key(account, index).address

    def _external_chain(self, account: int) -> ExtendedPrivateKey:
        chain = self._chains.get(account)
        if chain is None:
            chain = self._root.path([44 | _HARDENED, TRON_COIN_TYPE | _HARDENED, account | _HARDENED, _EXTERNAL_CHAIN])
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

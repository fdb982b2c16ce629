"""The wallets' key material: sealed in MongoDB by lucid_tron.keys's vault, unsealed into memory only to derive or
sign, never returned.

A sealed secret is the vault's ciphertext of a small JSON document, with b"wallet:" + wallet_id as associated data
(the convention lucid_tron.keys rotates under), so a ciphertext moved to another wallet does not open:
    {"kind": "hd", "mnemonic": ..., "passphrase": ...}   or   {"kind": "single", "key": <64 hex digits>}

Unsealed HD roots and derived keys are kept in memory (bounded), since unsealing and BIP-39's PBKDF2 cost
milliseconds and signing should not. BIP-32 and BIP-39 (`keys.HdSecret`, ~3 MiB) load on the first derivation, not at
start: the idle process stays within the 60 MiB budget.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pymongo.asynchronous.database import AsyncDatabase

from lucid_tron.chain import PrivateKey
from lucid_tron.errors import Unavailable
from lucid_tron import keys
from lucid_tron.keys import MasterSecret, Vault

if TYPE_CHECKING:
    from lucid_tron.keys import HdSecret

#: What the vault is sealed for, per the convention of lucid_tron.keys.rotate_master_key.
SEALED_FIELD = "sealed_secret"
VAULT_NOT_OPEN = "VAULT_NOT_OPEN"
_KEYS_KEPT = 100_000


def wallet_aad(wallet_id: str) -> bytes:
    return b"wallet:" + wallet_id.encode()


class Custody:
    """The vault of this install and the keys unsealed from it."""

    def __init__(self, secret: MasterSecret) -> None:
        self._secret = secret
        self._vault: Vault | None = None
        self._roots: dict[str, HdSecret] = {}
        self._single: dict[str, PrivateKey] = {}
        self._keys: OrderedDict[tuple[str, int], PrivateKey] = OrderedDict()

    async def open(self, db: AsyncDatabase[Any]) -> None:
        """Open the vault with the master secret (created on the first start). WrongMasterSecret, with nothing
        written, when the secret is not this install's."""
        self._vault = await Vault.open(db, self._secret)

    @property
    def is_open(self) -> bool:
        return self._vault is not None

    @property
    def vault(self) -> Vault:
        if self._vault is None:
            raise Unavailable("the key vault is not open yet: MongoDB has not answered since the start", reason=VAULT_NOT_OPEN)
        return self._vault

    def seal_hd(self, wallet_id: str, mnemonic: str, passphrase: str = "") -> dict[str, Any]:
        return self._seal(wallet_id, {"kind": "hd", "mnemonic": mnemonic, "passphrase": passphrase})

    def seal_single(self, wallet_id: str, key: PrivateKey) -> dict[str, Any]:
        return self._seal(wallet_id, {"kind": "single", "key": key.to_bytes().hex()})

    def _seal(self, wallet_id: str, secret: Mapping[str, str]) -> dict[str, Any]:
        return self.vault.seal(wallet_aad(wallet_id), json.dumps(secret).encode())

    def unseal(self, wallet: Mapping[str, Any]) -> dict[str, str]:
        """The secret of a wallet document, for the host commands (backup) only."""
        return json.loads(self.vault.unseal(wallet_aad(wallet["_id"]), wallet[SEALED_FIELD]))

    def hd_key(self, wallet: Mapping[str, Any], index: int) -> PrivateKey:
        """The key of address `index` of an HD wallet document (account from the document)."""
        cache_key = (wallet["_id"], index)
        key = self._keys.get(cache_key)
        if key is not None:
            self._keys.move_to_end(cache_key)
            return key
        root = self._roots.get(wallet["_id"])
        if root is None:
            secret = self.unseal(wallet)
            root = self._roots[wallet["_id"]] = keys.HdSecret.from_mnemonic(secret["mnemonic"], secret["passphrase"])
        key = self._keys[cache_key] = root.key(wallet["account"], index)
        if len(self._keys) > _KEYS_KEPT:
            self._keys.popitem(last=False)
        return key

    def single_key(self, wallet: Mapping[str, Any]) -> PrivateKey:
        key = self._single.get(wallet["_id"])
        if key is None:
            key = self._single[wallet["_id"]] = keys.single_key(bytes.fromhex(self.unseal(wallet)["key"]))
        return key

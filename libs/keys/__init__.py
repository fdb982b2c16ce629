"""Wallet key custody: HD and single keys, and their encryption at rest. Plain Python; no grpc, no service code.

- mnemonics: new_mnemonic, check_mnemonic (BIP-39, English)
- keys: HdSecret (BIP-32/BIP-44, m/44'/195'/account'/0/index; the account node cached), tron_path, single_key;
  keys are lucid_tron.chain.PrivateKey
- the master secret: MasterSecret (the file named by ENCRYPTION_KEY_FILE)
- encryption at rest: Vault (AES-256-GCM under a scrypt-derived key, random per-install salt and per-record nonce,
  the record's identity as associated data: record_aad), rotate_master_key (crash-safe, resumable)
- errors: KeyCustodyError and its subclasses

Nothing here puts key material, a master secret or a mnemonic's words in a message or a repr, and none of its secret
holders can be pickled. The modules behind these names are private; import the names from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lucid_tron.lazy import lazy_exports

if TYPE_CHECKING:
    from ._errors import (
        InvalidDerivation,
        InvalidMnemonic,
        InvalidPrivateKey,
        KeyCustodyError,
        MasterSecretError,
        RotationUnfinished,
        SealedRecordError,
        WrongMasterSecret,
    )
    from ._hd import TRON_COIN_TYPE, HdSecret, single_key, tron_path
    from ._master_secret import MIN_MASTER_SECRET_BYTES, MasterSecret
    from ._mnemonic import MNEMONIC_WORD_COUNTS, check_mnemonic, new_mnemonic
    from ._rotation import AadFor, RotationResult, collection_aad, rotate_master_key
    from ._vault import DEFAULT_SCRYPT, SEALED_VERSION, VAULT_COLLECTION, ScryptParams, Vault, record_aad

_LAZY = {
    "AadFor": "._rotation",
    "DEFAULT_SCRYPT": "._vault",
    "HdSecret": "._hd",
    "InvalidDerivation": "._errors",
    "InvalidMnemonic": "._errors",
    "InvalidPrivateKey": "._errors",
    "KeyCustodyError": "._errors",
    "MIN_MASTER_SECRET_BYTES": "._master_secret",
    "MNEMONIC_WORD_COUNTS": "._mnemonic",
    "MasterSecret": "._master_secret",
    "MasterSecretError": "._errors",
    "RotationResult": "._rotation",
    "RotationUnfinished": "._errors",
    "SEALED_VERSION": "._vault",
    "ScryptParams": "._vault",
    "SealedRecordError": "._errors",
    "TRON_COIN_TYPE": "._hd",
    "VAULT_COLLECTION": "._vault",
    "Vault": "._vault",
    "WrongMasterSecret": "._errors",
    "check_mnemonic": "._mnemonic",
    "collection_aad": "._rotation",
    "new_mnemonic": "._mnemonic",
    "record_aad": "._vault",
    "rotate_master_key": "._rotation",
    "single_key": "._hd",
    "tron_path": "._hd",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

__all__ = sorted(_LAZY)

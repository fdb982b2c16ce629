"""What only the host may do with wallets, never an RPC: show a mnemonic (backup), restore one, import a single
private key, rotate the master secret. `lucid-tron wallet ...` runs these with the database and the master secret
read directly on the wallet-manager host; each is written to the audit log as the principal "host".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from lucid_tron.errors import FailedPrecondition
from lucid_tron.keys import MasterSecret, RotationResult, check_mnemonic, rotate_master_key, single_key
from lucid_tron.storage import MongoSettings

from .audit import HOST_PRINCIPAL, WalletAudit
from .custody import SEALED_FIELD, Custody
from .spend_policy import SpendPolicy
from .store import WALLETS, Document, WalletManagerStore
from .wallets import HD, Wallets, new_wallet_id


class HostWallets:
    """The wallets of one database, opened with the master secret of one file."""

    def __init__(self, store: WalletManagerStore, custody: Custody, secret: MasterSecret) -> None:
        self.store = store
        self.wallets = Wallets(store, custody, WalletAudit(store))
        self._custody = custody
        self._secret = secret

    @classmethod
    @asynccontextmanager
    async def open(cls, mongo_url: str, database: str, master_key_file: Path) -> AsyncIterator[HostWallets]:
        """Connect, and open the vault (WrongMasterSecret, nothing written, when the secret is not this install's).

        MasterSecretError when the file cannot be used."""
        secret = MasterSecret.from_file(master_key_file)
        store = WalletManagerStore(MongoSettings(mongo_url=mongo_url, mongo_database=database))
        await store.open()
        try:
            custody = Custody(secret)
            await custody.open(store.db)
            yield cls(store, custody, secret)
        finally:
            await store.close()

    async def backup(self, wallet_id: str) -> str:
        """The mnemonic of an HD wallet, for the operator to write down."""
        wallet = await self.wallets.get(wallet_id)
        if wallet["kind"] != HD:
            raise FailedPrecondition(f"wallet {wallet_id} has no mnemonic to back up", subject=wallet_id)
        await self.wallets.audit.record("wallet.backup", {"wallet_id": wallet_id}, principal=HOST_PRINCIPAL)
        return self._custody.unseal(wallet)["mnemonic"]

    async def create_hd(
        self, *, display_name: str = "", account: int = 0, policy: SpendPolicy | None = None
    ) -> Document:
        """A new HD wallet from a fresh mnemonic (what `lucid-tron up` makes its payment and payout wallets with).
        Without `policy` it signs nothing until its spend policy is set (UpdateWallet)."""
        return await self.wallets.create_hd(
            new_wallet_id(), display_name=display_name, account=account, policy=policy or SpendPolicy(),
            principal=HOST_PRINCIPAL,
        )

    async def restore(self, mnemonic: str, *, passphrase: str = "", display_name: str = "", account: int = 0) -> Document:
        """A new HD wallet from an existing mnemonic (InvalidMnemonic when it is not one). It signs nothing until its
        spend policy is set (UpdateWallet)."""
        phrase = check_mnemonic(mnemonic)
        return await self.wallets.create_hd(
            new_wallet_id(),
            display_name=display_name,
            account=account,
            policy=SpendPolicy(),
            mnemonic=phrase,
            passphrase=passphrase,
            principal=HOST_PRINCIPAL,
        )

    async def import_key(self, private_key: bytes, *, display_name: str = "") -> Document:
        """A new single-key wallet (InvalidPrivateKey when the bytes are not a key)."""
        return await self.wallets.create_single_key(
            single_key(private_key), display_name=display_name, policy=SpendPolicy(), principal=HOST_PRINCIPAL
        )

    async def rotate(self, new: MasterSecret) -> RotationResult:
        """Re-seal every wallet under a key of `new` (crash-safe: run it again after an interruption)."""
        result = await rotate_master_key(self.store.db, self._secret, new, records=[(WALLETS, SEALED_FIELD)])
        await self.wallets.audit.record(
            "vault.rotate",
            {"from_key_id": result.from_key_id, "to_key_id": result.to_key_id, "resealed": result.resealed},
            principal=HOST_PRINCIPAL,
        )
        return result

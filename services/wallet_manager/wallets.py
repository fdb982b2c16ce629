"""Wallets: HD (a BIP-39 mnemonic, addresses on m/44'/195'/account'/0/index), single key, and watch-only; their
derived addresses; their spend policy.

Plain async Python, no grpc: the servicer adapts it to lucid.tron.v1.WalletService, and it raises `lucid_tron.errors`
for the mesh to map. Wallets are documents of the store (see store.py); key material stays sealed in them and is
unsealed by `custody` only to derive or sign.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lucid_tron.errors import Aborted, FailedPrecondition, NotFound
from lucid_tron import keys
from lucid_tron.chain import PrivateKey
from lucid_tron.storage import utc_now

from .audit import WalletAudit
from .custody import SEALED_FIELD, Custody
from .spend_policy import SpendPolicy
from .store import Document, WalletManagerStore

HD = "hd"
SINGLE_KEY = "single"
WATCH_ONLY = "watch"

WALLET_KIND = "WALLET_KIND"
ETAG_MISMATCH = "ETAG_MISMATCH"
#: BIP-39 word count of the mnemonics created here (256 bits of entropy).
MNEMONIC_WORDS = 24
#: DeriveAddresses yields to the event loop after this many derivations (~1 ms each).
_DERIVED_BETWEEN_YIELDS = 10


def wallet_id_for(request_id: str) -> str:
    """The id of the wallet CreateWallet makes for `request_id`: a retry after a crash finds the same wallet
    instead of making a second seed."""
    return "w_" + hashlib.sha256(request_id.encode()).hexdigest()[:24]


def new_wallet_id() -> str:
    return "w_" + secrets.token_hex(12)


def account_path(wallet: Mapping[str, Any]) -> str:
    """"m/44'/195'/<account>'/0" of an HD wallet, "" for the others."""
    return keys.tron_path(wallet["account"], 0).rpartition("/")[0] if wallet["kind"] == HD else ""


class Wallets:
    """wallet-manager's wallets and addresses, on its MongoDB store, its key custody and its audit log."""

    def __init__(self, store: WalletManagerStore, custody: Custody, audit: WalletAudit) -> None:
        self.store = store
        self.custody = custody
        self.audit = audit

    # -- creating ---------------------------------------------------------------------------------------------------

    async def create_hd(
        self,
        wallet_id: str,
        *,
        display_name: str,
        account: int,
        policy: SpendPolicy,
        mnemonic: str | None = None,
        passphrase: str = "",
        principal: str | None = None,
    ) -> Document:
        """A new HD wallet from a fresh 24-word mnemonic (or, for a host restore, the one given), with the address
        at index 0 derived and recorded."""
        phrase = mnemonic if mnemonic is not None else keys.new_mnemonic(MNEMONIC_WORDS)
        first = keys.HdSecret.from_mnemonic(phrase, passphrase).address(account, 0)
        wallet = self._document(wallet_id, HD, display_name, policy, first_address=first, account=account)
        wallet["address_count"] = 1
        wallet[SEALED_FIELD] = self.custody.seal_hd(wallet_id, phrase, passphrase)
        stored = await self._insert(wallet)
        await self.store.insert_address(_address_document(stored, 0, stored["first_address"], "", stored["created_at"]))
        await self.audit.record("wallet.create", _created(stored), principal=principal)
        return stored

    async def create_single_key(
        self, key: PrivateKey, *, display_name: str, policy: SpendPolicy, principal: str | None = None
    ) -> Document:
        """A wallet of one imported key (host command only)."""
        wallet_id = new_wallet_id()
        wallet = self._document(wallet_id, SINGLE_KEY, display_name, policy, first_address=key.address)
        wallet[SEALED_FIELD] = self.custody.seal_single(wallet_id, key)
        stored = await self._insert(wallet)
        await self.audit.record("wallet.create", _created(stored), principal=principal)
        return stored

    async def create_watch_only(
        self, wallet_id: str, *, display_name: str, address: str, policy: SpendPolicy
    ) -> Document:
        wallet = self._document(wallet_id, WATCH_ONLY, display_name, policy, first_address=address)
        stored = await self._insert(wallet)
        await self.audit.record("wallet.create", _created(stored))
        return stored

    def _document(
        self, wallet_id: str, kind: str, display_name: str, policy: SpendPolicy, *, first_address: str, account: int = 0
    ) -> Document:
        now = utc_now()
        return {
            "_id": wallet_id,
            "kind": kind,
            "display_name": display_name,
            "account": account,
            "first_address": first_address,
            "address_count": 0,
            "spend_policy": policy.to_document(),
            "etag": secrets.token_hex(8),
            "created_at": now,
            "updated_at": now,
        }

    async def _insert(self, wallet: Document) -> Document:
        """Insert, or find the wallet an interrupted attempt of the same create already inserted."""
        if await self.store.insert_wallet(wallet):
            return wallet
        return await self._require(wallet["_id"])

    # -- reading and changing ---------------------------------------------------------------------------------------

    async def get(self, wallet_id: str) -> Document:
        return await self._require(wallet_id)

    async def _require(self, wallet_id: str) -> Document:
        wallet = await self.store.wallet(wallet_id)
        if wallet is None:
            raise NotFound("wallet", wallet_id)
        return wallet

    async def page(self, after: tuple[datetime, str] | None, limit: int) -> list[Document]:
        return await self.store.wallets_page(after, limit)

    async def update(
        self, wallet_id: str, *, etag: str | None, display_name: str | None, policy: SpendPolicy | None
    ) -> Document:
        """Change the display name and/or the spend policy, if the wallet still has `etag` (AIP-154)."""
        changes: dict[str, Any] = {"etag": secrets.token_hex(8), "updated_at": utc_now()}
        if display_name is not None:
            changes["display_name"] = display_name
        if policy is not None:
            changes["spend_policy"] = policy.to_document()
        updated = await self.store.update_wallet(wallet_id, etag, changes)
        if updated is None:
            current = await self._require(wallet_id)
            raise Aborted(
                f"wallet {wallet_id} changed since etag {etag!r} (it is now {current['etag']!r}): read it again",
                reason=ETAG_MISMATCH,
            )
        await self.audit.record(
            "wallet.update",
            {
                "wallet_id": wallet_id,
                "fields": sorted(key for key in changes if key not in ("etag", "updated_at")),
                **({"spend_policy": changes["spend_policy"]} if policy is not None else {}),
            },
        )
        return updated

    # -- addresses --------------------------------------------------------------------------------------------------

    async def derive(self, wallet_id: str, *, index: int | None, label: str) -> Document:
        """Derive and record an address of an HD wallet: the next free index (one atomic increment, so concurrent
        calls get distinct consecutive indexes), or `index`, returning the recorded one if it was derived before."""
        if index is None:
            claimed = await self.store.claim_next_index(wallet_id, HD, 1)
            if claimed is None:
                _derivable(await self._require(wallet_id))
                raise NotFound("wallet", wallet_id)  # it was created after the claim found nothing
            wallet, index = claimed, int(claimed["address_count"]) - 1
        else:
            wallet = _derivable(await self._require(wallet_id))
            await self.store.reserve_index(wallet_id, index)
        address = self.custody.hd_key(wallet, index).address
        recorded = await self.store.insert_address(_address_document(wallet, index, address, label, utc_now()))
        await self.audit.record(
            "address.derive",
            {"wallet_id": wallet_id, "index": recorded["index"], "address": recorded["address"], "label": recorded["label"]},
        )
        return recorded

    async def derive_many(self, wallet_id: str, count: int, label: str) -> list[Document]:
        """Derive and record the next `count` addresses of an HD wallet: one atomic increment reserves them all,
        one write records them, one audit entry names the range."""
        claimed = await self.store.claim_next_index(wallet_id, HD, count)
        if claimed is None:
            _derivable(await self._require(wallet_id))
            raise NotFound("wallet", wallet_id)
        first = int(claimed["address_count"]) - count
        now = utc_now()
        recorded = []
        for index in range(first, first + count):
            recorded.append(_address_document(claimed, index, self.custody.hd_key(claimed, index).address, label, now))
            if len(recorded) % _DERIVED_BETWEEN_YIELDS == 0:
                await asyncio.sleep(0)  # ~1 ms of CPU each: let a signing request in between
        await self.store.insert_addresses(recorded)
        await self.audit.record(
            "addresses.derive",
            {"wallet_id": wallet_id, "first_index": first, "count": count, "first_address": recorded[0]["address"],
             "last_address": recorded[-1]["address"], "label": label},
        )
        return recorded

    async def addresses(self, wallet_id: str, after_index: int, limit: int) -> list[Document]:
        await self._require(wallet_id)
        return await self.store.addresses_page(wallet_id, after_index, limit)


def _derivable(wallet: Document) -> Document:
    """`wallet` if it is an HD wallet; FailedPrecondition (WALLET_KIND) for the kinds without addresses to derive."""
    if wallet["kind"] != HD:
        raise FailedPrecondition(
            f"wallet {wallet['_id']} is {_kind_words(wallet['kind'])}: it has no addresses to derive",
            reason=WALLET_KIND,
            subject=wallet["_id"],
        )
    return wallet


def _address_document(wallet: Mapping[str, Any], index: int, address: str, label: str, at: datetime) -> Document:
    return {
        "_id": f"{wallet['_id']}/{index}",
        "wallet_id": wallet["_id"],
        "index": index,
        "address": address,
        "derivation_path": keys.tron_path(wallet["account"], index),
        "label": label,
        "created_at": at,
    }


def _created(wallet: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "wallet_id": wallet["_id"],
        "kind": wallet["kind"],
        "account": wallet["account"],
        "first_address": wallet["first_address"],
        "spend_policy": wallet["spend_policy"],
    }


def _kind_words(kind: str) -> str:
    return {HD: "an HD wallet", SINGLE_KEY: "a single-key wallet", WATCH_ONLY: "watch-only"}[kind]

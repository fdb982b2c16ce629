"""SignTransaction: decode raw_data, check it against the caller's intent and the wallet's spend policy, count it
against the daily cap, sign it with the owner's key. No other way to get a signature exists (no "sign this hash").

Order of the checks, each refusal its own code and reason, each written to the audit log:
    raw_data decodes strictly, and its sha256 is the txid the caller expects     INVALID_ARGUMENT
    the wallet exists and holds keys                                             NOT_FOUND, FAILED_PRECONDITION
    every intent field matches raw_data; no memo; not expired; the owner's key   FAILED_PRECONDITION
    the spend policy: kind, contract, fee limit, asset, per-transaction cap      FAILED_PRECONDITION, RESOURCE_EXHAUSTED
    the daily cap, counted atomically once per txid                              RESOURCE_EXHAUSTED
A transaction signed before is answered with the same signature (RFC 6979 signing is deterministic) and is not
counted again: the day's spend document lists the txids it counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lucid_tron.chain import ChainError, DecodedTransaction, PrivateKey, decode_transaction
from lucid_tron.chain import txid as txid_of
from lucid_tron.errors import Aborted, FailedPrecondition, InvalidArgument, LucidError, Unavailable
from lucid_tron.storage import utc_now

from .intent import INTENT_MISMATCH, Intent, mismatches, observe
from .spend_policy import SpendPolicy, daily_cap_reached, day_key
from .store import SpendOutcome
from .wallets import HD, SINGLE_KEY, WALLET_KIND, Wallets

TXID_MISMATCH = "TXID_MISMATCH"
MEMO_NOT_ALLOWED = "MEMO_NOT_ALLOWED"
TRANSACTION_EXPIRED = "TRANSACTION_EXPIRED"
NOT_A_WALLET_ADDRESS = "NOT_A_WALLET_ADDRESS"
_INDEXES_KEPT = 100_000
#: How much of a free-text field of a malformed request the audit log keeps.
_SHOWN_CHARACTERS = 128


@dataclass(frozen=True)
class SignRequest:
    wallet_id: str
    raw_data: bytes
    intent: Intent
    expected_txid: str | None
    reference: str


@dataclass(frozen=True)
class Signature:
    txid: str
    signature: bytes


class Signer:
    """Signs for the wallets of `wallets`; `tokens` maps each TRC20 contract address it knows to its asset."""

    def __init__(
        self, wallets: Wallets, *, tokens: Mapping[str, str], now_ms: Callable[[], int] = lambda: int(time.time() * 1000)
    ) -> None:
        self._wallets = wallets
        self._store = wallets.store
        self._tokens = dict(tokens)
        self._now_ms = now_ms
        # (wallet_id, address) -> index: a derived address never changes, so it is read from MongoDB once.
        self._indexes: dict[tuple[str, str], int] = {}

    async def sign(self, request: SignRequest) -> Signature:
        try:
            return await self._sign(request)
        except (Unavailable, Aborted):
            raise  # not a refusal: nothing was decided, and the audit log may be just as unreachable
        except LucidError as refusal:
            await self.record_refusal(
                request.wallet_id, request.raw_data, refusal, kind=request.intent.kind, reference=request.reference
            )
            raise

    async def record_refusal(
        self, wallet_id: str, raw_data: bytes, refusal: LucidError, *, kind: str | None, reference: str
    ) -> None:
        """Audit a refused signature, including one whose request did not even parse (its fields as sent, cut short)."""
        await self._wallets.audit.record(
            "transaction.refuse",
            {
                "wallet_id": wallet_id[:_SHOWN_CHARACTERS],
                "txid": txid_of(raw_data).hex(),
                "kind": kind,
                "reason": refusal.reason,
                "reference": reference[:_SHOWN_CHARACTERS],
            },
        )

    async def _sign(self, request: SignRequest) -> Signature:
        decoded = _decode(request.raw_data)
        txid = decoded.txid_hex
        if request.expected_txid is not None and request.expected_txid != txid:
            raise InvalidArgument.field(
                "txid", f"is not sha256(raw_data), which is {txid}", reason=TXID_MISMATCH
            )
        wallet = await self._wallets.get(request.wallet_id)
        if wallet["kind"] not in (HD, SINGLE_KEY):
            raise FailedPrecondition(
                f"wallet {request.wallet_id} is watch-only: it holds no key", reason=WALLET_KIND, subject=request.wallet_id
            )
        observed = observe(decoded, self._tokens)
        differing = mismatches(request.intent, observed)
        if differing:
            raise FailedPrecondition(
                "raw_data does not do what the intent says: " + ", ".join(v.subject for v in differing),
                reason=INTENT_MISMATCH,
                violations=differing,
            )
        if decoded.memo:
            raise FailedPrecondition("raw_data carries a memo (raw_data.data); the wallet signs none", reason=MEMO_NOT_ALLOWED, subject="raw_data.data")
        if decoded.expiration_ms <= self._now_ms():
            raise FailedPrecondition(
                f"the transaction expired at {decoded.expiration_ms} ms (Unix)", reason=TRANSACTION_EXPIRED, subject="raw_data.expiration"
            )
        key = await self._owner_key(wallet, request.intent.owner_address)
        intent = request.intent
        cap = SpendPolicy.from_document(wallet["spend_policy"]).check(
            wallet_id=request.wallet_id,
            kind=intent.kind or "",
            asset=intent.asset,
            amount=intent.amount_base_units,
            contract=observed.contract_address,
            fee_limit_sun=decoded.fee_limit_sun,
        )
        details = {
            "wallet_id": request.wallet_id,
            "txid": txid,
            "kind": intent.kind,
            "owner_address": intent.owner_address,
            "recipient_address": intent.recipient_address,
            "asset": intent.asset,
            "amount_base_units": intent.amount_base_units,
            "fee_limit_sun": decoded.fee_limit_sun,
            "reference": request.reference,
        }
        repeated = False
        if cap is not None and intent.asset is not None:
            today = datetime.now(UTC).date()
            outcome, spent = await self._store.count_spend(
                day_key(request.wallet_id, intent.asset, today), txid, intent.amount_base_units, cap.daily_max
            )
            if outcome == SpendOutcome.OVER_CAP:
                raise daily_cap_reached(request.wallet_id, intent.asset, cap, spent, intent.amount_base_units)
            repeated = outcome == SpendOutcome.ALREADY_COUNTED
        # RFC 6979 signatures are deterministic: signing a transaction again gives the signature given before.
        signature = key.sign_digest(decoded.txid)
        first = await self._store.record_signature(
            {"_id": txid, "wallet_id": request.wallet_id, "signature": signature, "created_at": utc_now()}
        )
        await self._wallets.audit.record("transaction.sign", {**details, "repeated": repeated or not first})
        return Signature(txid, signature)

    async def _owner_key(self, wallet: Mapping[str, Any], owner: str) -> PrivateKey:
        if wallet["kind"] == SINGLE_KEY and owner == wallet["first_address"]:
            return self._wallets.custody.single_key(wallet)
        if wallet["kind"] == HD:
            index = self._indexes.get((wallet["_id"], owner))
            if index is None:
                recorded = await self._store.wallet_address(wallet["_id"], owner)
                if recorded is not None:
                    index = recorded["index"]
                    if len(self._indexes) >= _INDEXES_KEPT:
                        self._indexes.clear()
                    self._indexes[(wallet["_id"], owner)] = index
            if index is not None:
                return self._wallets.custody.hd_key(wallet, index)
        raise FailedPrecondition(
            f"{owner} is not an address of wallet {wallet['_id']} (derive it first)",
            reason=NOT_A_WALLET_ADDRESS,
            subject="intent.owner_address",
        )


def _decode(raw_data: bytes) -> DecodedTransaction:
    try:
        return decode_transaction(raw_data)
    except ChainError as error:
        raise InvalidArgument.field("raw_data", error.message, reason=error.reason) from None

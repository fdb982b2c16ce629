"""wallet-manager's proto side: the name of lucid.tron.v1.WalletService, the checks of its requests (every bad field
named at once) and the mapping between its messages and the values of the domain modules.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from google.protobuf import timestamp_pb2

from lucid.tron.v1 import common_pb2, wallet_pb2
from lucid_tron.validation import FieldChecks

from .intent import Intent
from .signing import Signature, SignRequest
from .spend_policy import AssetCap, SpendPolicy
from .wallets import HD, SINGLE_KEY, WATCH_ONLY, account_path

SERVICE_NAME: str = wallet_pb2.DESCRIPTOR.services_by_name["WalletService"].full_name

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_DISPLAY_NAME = 64
MAX_LABEL = 128
MAX_REFERENCE = 128
#: Far above any transaction lucid-tron builds (a TRC20 transfer is ~200 bytes), so nobody makes us decode megabytes.
MAX_RAW_DATA = 4096
MAX_BIP32_INDEX = 2**31 - 1
#: The most addresses one DeriveAddresses call derives: ~1 ms of key derivation each, on the event loop.
MAX_DERIVED_AT_ONCE = 1000
UPDATABLE_FIELDS = ("display_name", "spend_policy")
_WALLET_ID = re.compile(r"w_[0-9a-f]{24}")

KINDS_BY_NUMBER = {
    wallet_pb2.TRANSACTION_KIND_TRX_TRANSFER: "TRX_TRANSFER",
    wallet_pb2.TRANSACTION_KIND_TRC20_TRANSFER: "TRC20_TRANSFER",
    wallet_pb2.TRANSACTION_KIND_TRC20_APPROVE: "TRC20_APPROVE",
    wallet_pb2.TRANSACTION_KIND_FREEZE_BALANCE_V2: "FREEZE_BALANCE_V2",
    wallet_pb2.TRANSACTION_KIND_UNFREEZE_BALANCE_V2: "UNFREEZE_BALANCE_V2",
    wallet_pb2.TRANSACTION_KIND_DELEGATE_RESOURCE: "DELEGATE_RESOURCE",
    wallet_pb2.TRANSACTION_KIND_UNDELEGATE_RESOURCE: "UNDELEGATE_RESOURCE",
    wallet_pb2.TRANSACTION_KIND_WITHDRAW_EXPIRE_UNFREEZE: "WITHDRAW_EXPIRE_UNFREEZE",
    wallet_pb2.TRANSACTION_KIND_CANCEL_ALL_UNFREEZE_V2: "CANCEL_ALL_UNFREEZE_V2",
}
NUMBERS_BY_KIND = {kind: number for number, kind in KINDS_BY_NUMBER.items()}
ASSETS_BY_NUMBER = {common_pb2.ASSET_TRX: "TRX", common_pb2.ASSET_USDT: "USDT"}
NUMBERS_BY_ASSET = {asset: number for number, asset in ASSETS_BY_NUMBER.items()}
RESOURCES_BY_NUMBER = {common_pb2.RESOURCE_BANDWIDTH: "BANDWIDTH", common_pb2.RESOURCE_ENERGY: "ENERGY"}
WALLET_KINDS_BY_NUMBER = {
    wallet_pb2.WALLET_KIND_HD: HD,
    wallet_pb2.WALLET_KIND_SINGLE_KEY: SINGLE_KEY,
    wallet_pb2.WALLET_KIND_WATCH_ONLY: WATCH_ONLY,
}
NUMBERS_BY_WALLET_KIND = {kind: number for number, kind in WALLET_KINDS_BY_NUMBER.items()}


# -- requests -----------------------------------------------------------------------------------------------------


def wallet_id(check: FieldChecks, field: str, value: str) -> str | None:
    return check.pattern(field, value, _WALLET_ID, expected='a wallet id ("w_" and 24 hex digits)', max_length=26)


def spend_policy(check: FieldChecks, field: str, policy: wallet_pb2.SpendPolicy) -> SpendPolicy:
    caps = []
    for position, cap in enumerate(policy.caps):
        at = f"{field}.caps[{position}]"
        asset = check.enum(f"{at}.asset", cap.asset, ASSETS_BY_NUMBER)
        per_transaction = check.amount(f"{at}.per_transaction_max_base_units", cap.per_transaction_max_base_units)
        daily = check.amount(f"{at}.daily_max_base_units", cap.daily_max_base_units)
        if per_transaction is not None and daily is not None and daily < per_transaction:
            check.fail(f"{at}.daily_max_base_units", "must be at least per_transaction_max_base_units")
        if asset is not None and any(earlier.asset == asset for earlier in caps):
            check.fail(f"{at}.asset", f"{asset} is capped twice; one entry per asset")
        if asset is not None and per_transaction is not None and daily is not None:
            caps.append(AssetCap(asset, per_transaction, daily))
    kinds = [
        check.enum(f"{field}.allowed_kinds[{position}]", kind, KINDS_BY_NUMBER)
        for position, kind in enumerate(policy.allowed_kinds)
    ]
    contracts = [
        check.address(f"{field}.allowed_contracts[{position}]", contract)
        for position, contract in enumerate(policy.allowed_contracts)
    ]
    max_fee = check.amount(f"{field}.max_fee_limit_sun", policy.max_fee_limit_sun, allow_zero=True)
    return SpendPolicy(
        caps=tuple(caps),
        allowed_kinds=frozenset(kind for kind in kinds if kind is not None),
        allowed_contracts=frozenset(contract for contract in contracts if contract is not None),
        max_fee_limit_sun=max_fee or 0,
    )


def intent(check: FieldChecks, given: wallet_pb2.TransactionIntent) -> Intent:
    kind = check.enum("intent.kind", given.kind, KINDS_BY_NUMBER)
    return Intent(
        kind=kind,
        owner_address=check.address("intent.owner_address", given.owner_address) or "",
        recipient_address=check.address("intent.recipient_address", given.recipient_address, required=False),
        asset=check.enum("intent.asset", given.asset, ASSETS_BY_NUMBER, unspecified=""),
        amount_base_units=check.amount("intent.amount_base_units", given.amount_base_units, allow_zero=True) or 0,
        resource=check.enum("intent.resource", given.resource, RESOURCES_BY_NUMBER, unspecified="") or None,
        lock=given.lock,
        lock_period_blocks=check.non_negative("intent.lock_period_blocks", given.lock_period_blocks) or 0,
        fee_limit_sun=check.amount("intent.fee_limit_sun", given.fee_limit_sun, allow_zero=True) or 0,
    )


def sign_request(request: wallet_pb2.SignTransactionRequest) -> SignRequest:
    check = FieldChecks()
    wallet = wallet_id(check, "wallet_id", request.wallet_id)
    raw_data = check.data("raw_data", request.raw_data, max_length=MAX_RAW_DATA)
    stated = intent(check, request.intent)
    expected_txid = check.txid("txid", request.txid, required=False)
    reference = check.string("reference", request.reference, required=False, max_length=MAX_REFERENCE)
    check.done()
    assert wallet is not None and raw_data is not None
    # An unset asset is "" while checking (so UNSPECIFIED is not refused) and None for the comparison.
    stated = Intent(**{**stated.__dict__, "asset": stated.asset or None})
    return SignRequest(wallet, raw_data, stated, expected_txid, reference or "")


def page(check: FieldChecks, page_size: int, page_token: str) -> tuple[int, Any]:
    """(page size, the position the token names or None for the first page)."""
    size = check.page_size("page_size", page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE) or 0
    if not page_token:
        return size, None
    try:
        return size, json.loads(base64.urlsafe_b64decode(page_token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        check.fail("page_token", "is not a next_page_token of this method")
        return size, None


def counted_page(check: FieldChecks, page_size: int, page_token: str) -> tuple[int, int]:
    """(page size, the number the token names, -1 for the first page) for lists ordered by a number."""
    size, position = page(check, page_size, page_token)
    if position is None:
        return size, -1
    if isinstance(position, bool) or not isinstance(position, int):
        check.fail("page_token", "is not a next_page_token of this method")
        return size, -1
    return size, position


def next_page_token(position: Any) -> str:
    return base64.urlsafe_b64encode(canonical_json(position)).decode()


def cut(rows: list[dict[str, Any]], size: int, position: Callable[[dict[str, Any]], Any]) -> tuple[list[dict[str, Any]], str]:
    """The page of `size` rows out of `size + 1` read, and the token of the next page (empty when none)."""
    if len(rows) <= size:
        return rows, ""
    return rows[:size], next_page_token(position(rows[size - 1]))


def canonical_json(value: Any) -> bytes:
    """One encoding per value: sorted keys, no spaces (page tokens, audit details)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# -- responses ----------------------------------------------------------------------------------------------------


def timestamp(at: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(at)
    return stamp


def policy_message(policy: SpendPolicy) -> wallet_pb2.SpendPolicy:
    return wallet_pb2.SpendPolicy(
        caps=[
            wallet_pb2.AssetCap(
                asset=NUMBERS_BY_ASSET[cap.asset],
                per_transaction_max_base_units=cap.per_transaction_max,
                daily_max_base_units=cap.daily_max,
            )
            for cap in policy.caps
        ],
        allowed_kinds=[NUMBERS_BY_KIND[kind] for kind in sorted(policy.allowed_kinds)],
        allowed_contracts=sorted(policy.allowed_contracts),
        max_fee_limit_sun=policy.max_fee_limit_sun,
    )


def wallet_message(wallet: Mapping[str, Any]) -> wallet_pb2.Wallet:
    return wallet_pb2.Wallet(
        wallet_id=wallet["_id"],
        display_name=wallet["display_name"],
        first_address=wallet["first_address"],
        address_count=wallet["address_count"],
        account_path=account_path(wallet),
        create_time=timestamp(wallet["created_at"]),
        kind=NUMBERS_BY_WALLET_KIND[wallet["kind"]],
        account=wallet["account"],
        spend_policy=policy_message(SpendPolicy.from_document(wallet["spend_policy"])),
        etag=wallet["etag"],
        update_time=timestamp(wallet["updated_at"]),
    )


def address_message(address: Mapping[str, Any]) -> wallet_pb2.WalletAddress:
    return wallet_pb2.WalletAddress(
        wallet_id=address["wallet_id"],
        index=address["index"],
        address=address["address"],
        derivation_path=address["derivation_path"],
        label=address["label"],
        create_time=timestamp(address["created_at"]),
    )


def signature_message(signature: Signature) -> wallet_pb2.SignTransactionResponse:
    return wallet_pb2.SignTransactionResponse(txid=signature.txid, signature=signature.signature)


def audit_message(entry: Mapping[str, Any]) -> wallet_pb2.AuditEntry:
    return wallet_pb2.AuditEntry(
        seq=entry["_id"],
        principal=entry["principal"],
        action=entry["action"],
        details_json=canonical_json(entry["details"]).decode(),
        create_time=timestamp(entry["at"]),
        prev_hash=entry["prev_hash"],
        hash=entry["hash"],
    )

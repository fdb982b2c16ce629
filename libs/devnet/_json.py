"""TronGrid's JSON for blocks, transactions, receipts, accounts and resources.

java-tron prints protobuf messages with its JsonFormat: proto field names, fields at their default value left
out, bytes as hex, and with `visible=true` addresses as base58 and a few name fields (Return.message,
TransactionInfo.resMessage) as text instead of hex. These functions follow it field by field.
"""

from __future__ import annotations

import hashlib
from typing import Any

from lucid_tron.chain import protocol, to_base58, transaction_to_json

from ._blocks import Block
from ._chain import Chain
from ._executor import Receipt
from ._ledger import BANDWIDTH, ENERGY, Account, Ledger
from ._resources import (
    energy_limit,
    energy_used,
    free_net_used,
    net_limit,
    net_used,
    total_energy_weight,
    total_net_weight,
)

__all__ = [
    "account_json",
    "account_net_json",
    "account_resource_json",
    "address_json",
    "block_json",
    "owner_permission_json",
    "receipt_json",
    "text_json",
    "transaction_json",
]

# The operations bitmap java-tron gives a new account's default active permission.
DEFAULT_ACTIVE_OPERATIONS = "7fff1fc0033efb0f000000000000000000000000000000000000000000000000"


def address_json(address: bytes, visible: bool) -> str:
    return to_base58(address) if visible else address.hex()


def text_json(text: str, visible: bool) -> str:
    """A NameFieldNameMap field (Return.message, resMessage): text with visible=true, hex of UTF-8 otherwise."""
    return text if visible else text.encode().hex()


def transaction_json(raw: bytes, visible: bool) -> dict[str, Any]:
    """A stored transaction (serialized protocol.Transaction, with ret) as TronGrid prints it."""
    out = transaction_to_json(protocol.Transaction.FromString(raw), visible=visible)
    out.pop("visible", None)  # java-tron adds "visible" only to transactions it has just built
    return out


def block_json(block: Block, visible: bool, *, detail: bool = True) -> dict[str, Any]:
    header = block.header
    raw: dict[str, Any] = {}
    if header.timestamp:
        raw["timestamp"] = header.timestamp
    raw["txTrieRoot"] = header.tx_trie_root.hex()
    raw["parentHash"] = header.parent_hash.hex()
    if header.number:
        raw["number"] = header.number
    raw["witness_address"] = address_json(header.witness_address, visible)
    raw["version"] = header.version
    if header.account_state_root:
        raw["accountStateRoot"] = header.account_state_root.hex()
    block_header: dict[str, Any] = {"raw_data": raw}
    if block.witness_signature:
        block_header["witness_signature"] = block.witness_signature.hex()
    out: dict[str, Any] = {"blockID": block.id.hex(), "block_header": block_header}
    if detail and block.transactions:
        out["transactions"] = [transaction_json(raw_tx, visible) for raw_tx in block.transactions]
    return out


def receipt_json(receipt: Receipt, visible: bool) -> dict[str, Any]:
    """java-tron's TransactionInfo; with visible=true, log addresses become base58 (0x41 prepended) as there."""
    out: dict[str, Any] = {"id": receipt.txid.hex()}
    if receipt.fee:
        out["fee"] = receipt.fee
    out["blockNumber"] = receipt.block_number
    out["blockTimeStamp"] = receipt.block_timestamp
    out["contractResult"] = [receipt.contract_result.hex()]
    if receipt.contract_address is not None:
        out["contract_address"] = address_json(receipt.contract_address, visible)
    inner: dict[str, Any] = {}
    for key, value in (
        ("energy_usage", receipt.energy_usage),
        ("energy_fee", receipt.energy_fee),
        ("energy_usage_total", receipt.energy_usage_total),
        ("net_usage", receipt.net_usage),
        ("net_fee", receipt.net_fee),
    ):
        if value:
            inner[key] = value
    if receipt.result is not None:
        inner["result"] = receipt.result
    out["receipt"] = inner
    if receipt.logs:
        out["log"] = [_log_json(log.address, log.topics, log.data, visible) for log in receipt.logs]
    if receipt.internal_calls:
        out["internal_transactions"] = [
            _internal_transaction_json(receipt.txid, index, caller, called, visible)
            for index, (caller, called) in enumerate(receipt.internal_calls)
        ]
    if receipt.failed:
        out["result"] = "FAILED"
        if receipt.res_message:
            out["resMessage"] = text_json(receipt.res_message, visible)
    if receipt.withdraw_expire_amount:
        out["withdraw_expire_amount"] = receipt.withdraw_expire_amount
    if receipt.cancel_unfreeze_v2_amount:
        out["cancel_unfreezeV2_amount"] = [
            {"key": key, "value": value} for key, value in receipt.cancel_unfreeze_v2_amount.items()
        ]
    return out


def _internal_transaction_json(txid: bytes, index: int, caller: bytes, called: bytes, visible: bool) -> dict[str, Any]:
    """java-tron's InternalTransaction of a contract calling another (note "call"). Its hash is a stand-in:
    sha256(txid || index), not java-tron's derivation."""
    return {
        "hash": hashlib.sha256(txid + index.to_bytes(4, "big")).hexdigest(),
        "caller_address": address_json(caller, visible),
        "transferTo_address": address_json(called, visible),
        "callValueInfo": [{}],
        "note": b"call".hex(),
    }


def _log_json(address: bytes, topics: tuple[bytes, ...], data: bytes, visible: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"address": to_base58(address) if visible else address[1:].hex()}
    out["topics"] = [topic.hex() for topic in topics]
    if data:
        out["data"] = data.hex()
    return out


def _permission_key(address: bytes, visible: bool) -> dict[str, Any]:
    return {"address": address_json(address, visible), "weight": 1}


def owner_permission_json(address: bytes, visible: bool) -> dict[str, Any]:
    return {"permission_name": "owner", "threshold": 1, "keys": [_permission_key(address, visible)]}


def account_json(ledger: Ledger, account: Account, now_ms: int, visible: bool) -> dict[str, Any]:
    """java-tron's Account, with bandwidth and energy usage recovered up to `now_ms` as getaccount does."""
    out: dict[str, Any] = {}
    if account.is_contract:
        out["type"] = "Contract"
    out["address"] = address_json(account.address, visible)
    if account.balance:
        out["balance"] = account.balance
    out["create_time"] = account.create_time
    if account.latest_operation_time:
        out["latest_opration_time"] = account.latest_operation_time  # java-tron's spelling
    if used := net_used(account, now_ms):
        out["net_usage"] = used
    if account.latest_consume_time:
        out["latest_consume_time"] = account.latest_consume_time
    if used := free_net_used(account, now_ms):
        out["free_net_usage"] = used
    if account.latest_consume_free_time:
        out["latest_consume_free_time"] = account.latest_consume_free_time
    resource: dict[str, Any] = {}
    if used := energy_used(account, now_ms):
        resource["energy_usage"] = used
    if account.latest_consume_time_for_energy:
        resource["latest_consume_time_for_energy"] = account.latest_consume_time_for_energy
    if account.delegated_out[ENERGY]:
        resource["delegated_frozenV2_balance_for_energy"] = account.delegated_out[ENERGY]
    if account.acquired[ENERGY]:
        resource["acquired_delegated_frozenV2_balance_for_energy"] = account.acquired[ENERGY]
    out["account_resource"] = resource
    out["owner_permission"] = owner_permission_json(account.address, visible)
    out["active_permission"] = [
        {
            "type": "Active",
            "id": 2,
            "permission_name": "active",
            "threshold": 1,
            "operations": DEFAULT_ACTIVE_OPERATIONS,
            "keys": [_permission_key(account.address, visible)],
        }
    ]
    frozen = []
    for name in (BANDWIDTH, ENERGY, "TRON_POWER"):
        entry: dict[str, Any] = {} if name == BANDWIDTH else {"type": name}
        amount = account.frozen.get(name, 0)
        if amount:
            entry["amount"] = amount
        frozen.append(entry)
    out["frozenV2"] = frozen
    if account.unfreezing:
        out["unfrozenV2"] = [
            {
                **({} if u.resource == BANDWIDTH else {"type": u.resource}),
                "unfreeze_amount": u.amount,
                "unfreeze_expire_time": u.expire_time_ms,
            }
            for u in account.unfreezing
        ]
    if account.delegated_out[BANDWIDTH]:
        out["delegated_frozenV2_balance_for_bandwidth"] = account.delegated_out[BANDWIDTH]
    if account.acquired[BANDWIDTH]:
        out["acquired_delegated_frozenV2_balance_for_bandwidth"] = account.acquired[BANDWIDTH]
    return out


def account_net_json(chain: Chain, ledger: Ledger, account: Account, now_ms: int) -> dict[str, Any]:
    """java-tron's AccountNetMessage (getaccountnet)."""
    prices = chain.prices
    out: dict[str, Any] = {}
    if used := free_net_used(account, now_ms):
        out["freeNetUsed"] = used
    out["freeNetLimit"] = prices.free_bandwidth_per_day
    if used := net_used(account, now_ms):
        out["NetUsed"] = used
    if limit := net_limit(ledger, account, prices):
        out["NetLimit"] = limit
    out["TotalNetLimit"] = prices.total_net_limit
    out["TotalNetWeight"] = total_net_weight(ledger, prices)
    return out


def account_resource_json(chain: Chain, ledger: Ledger, account: Account, now_ms: int) -> dict[str, Any]:
    """java-tron's AccountResourceMessage (getaccountresource)."""
    prices = chain.prices
    out = account_net_json(chain, ledger, account, now_ms)
    tron_power = sum(account.frozen[r] + account.delegated_out[r] for r in (BANDWIDTH, ENERGY)) // 1_000_000
    if tron_power:
        out["tronPowerLimit"] = tron_power
    if used := energy_used(account, now_ms):
        out["EnergyUsed"] = used
    if limit := energy_limit(ledger, account, prices):
        out["EnergyLimit"] = limit
    out["TotalEnergyLimit"] = prices.total_energy_limit
    out["TotalEnergyWeight"] = total_energy_weight(ledger, prices)
    return out

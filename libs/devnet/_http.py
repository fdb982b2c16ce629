"""TronGrid's HTTP API over the devnet chain (aiohttp.web).

Every /wallet/ and /walletsolidity/ path takes POST with a JSON body (or GET with query parameters), honours
`visible` (base58 addresses in and out when true, "41..." hex when false) and answers as java-tron does:
HTTP 200 with the message, {} when nothing is found, and {"Error": "class <java exception> : <message>"}
for a request it cannot read. /v1/ paths answer TronGrid's v1 shape; /devnet/ is devnet's admin API.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lucid_tron.chain import (
    ChainError,
    InvalidAddress,
    MalformedTransaction,
    TxidMismatch,
    build_transaction,
    cancel_all_unfreeze_v2,
    decode_address,
    decode_contract,
    decode_transaction,
    delegate_resource,
    freeze_balance_v2,
    keccak256,
    protocol,
    recover_address,
    to_base58,
    transaction_from_json,
    transaction_to_json,
    transfer_contract,
    trigger_smart_contract,
    undelegate_resource,
    unfreeze_balance_v2,
    withdraw_expire_unfreeze,
)

from ._chain import BroadcastResult, ReorgError
from ._executor import ContractValidateError
from ._faults import FaultRule
from ._json import (
    account_json,
    account_net_json,
    account_resource_json,
    address_json,
    block_json,
    owner_permission_json,
    receipt_json,
    text_json,
    transaction_json,
)
from ._ledger import BANDWIDTH, ENERGY
from ._resources import can_delegate_max

if TYPE_CHECKING:
    from ._devnet import Devnet

__all__ = ["build_app"]

logger = logging.getLogger("lucid_tron.devnet")

DEFAULT_EXPIRATION_MS = 60_000
BLOCK_LIMIT = 100  # java-tron's BLOCK_LIMIT_NUM for block range queries
V1_MAX_LIMIT = 200
V1_DEFAULT_LIMIT = 20
MAX_BODY_BYTES = 4 * 1024 * 1024

Json = dict[str, Any] | list[Any]


class JavaError(Exception):
    """A request java-tron would refuse with {"Error": "class <exception> : <message>"} (HTTP 200)."""

    def __init__(self, message: str, exception: str = "java.lang.IllegalArgumentException") -> None:
        super().__init__(message)
        self.body = {"Error": f"class {exception} : {message}"}


class V1Error(Exception):
    """A TronGrid v1 refusal: {"success": false, "error": ..., "statusCode": ...}."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Call:
    """One /wallet/ request: its parameters, `visible`, and whether it reads the solidified state."""

    def __init__(self, devnet: Devnet, params: dict[str, Any], solidified: bool) -> None:
        self.devnet = devnet
        self.chain = devnet.chain
        self.params = params
        self.solidified = solidified
        self.visible = _bool(params.get("visible", False), "visible")

    def address(self, key: str, *, required: bool = True) -> bytes | None:
        value = self.params.get(key)
        if value is None or value == "":
            if required:
                raise JavaError(f"{key} isn't set.", "java.security.InvalidParameterException")
            return None
        if not isinstance(value, str):
            raise JavaError(f"{key} must be a string address, got {type(value).__name__}")
        looks_hex = bool(re.fullmatch(r"[0-9a-fA-F]+", value))
        if self.visible and looks_hex:
            raise JavaError(f"{key} {value!r} is hex but visible=true expects a base58 address (T...)")
        if not self.visible and not looks_hex:
            raise JavaError(f"{key} {value!r} is not hex; send visible=true with base58 addresses")
        try:
            return decode_address(value)
        except InvalidAddress as error:
            raise JavaError(f"invalid {key}: {error}") from None

    def integer(self, key: str, default: int | None = None) -> int:
        value = self.params.get(key, default)
        if value is None:
            raise JavaError(f"key [{key}] does not exist", "java.security.InvalidParameterException")
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise JavaError(f"{key} must be an integer, got {value!r}", "java.lang.NumberFormatException")
        if not -(2**63) <= value < 2**63:
            raise JavaError(f"{key} is out of the int64 range: {value}", "java.lang.ArithmeticException")
        return value

    def hex(self, key: str) -> bytes:
        value = self.params.get(key, "")
        if not isinstance(value, str):
            raise JavaError(f"{key} must be a hex string")
        try:
            return bytes.fromhex(value[2:] if value[:2] in ("0x", "0X") else value)
        except ValueError:
            raise JavaError(f"{key} is not hex: {value!r}", "org.bouncycastle.util.encoders.DecoderException") from None

    def resource(self, key: str = "resource") -> str:
        value = self.params.get(key, BANDWIDTH)
        if value in (0, BANDWIDTH):
            return BANDWIDTH
        if value in (1, ENERGY):
            return ENERGY
        if value in (2, "TRON_POWER"):
            return "TRON_POWER"
        raise JavaError(f"{key} must be BANDWIDTH or ENERGY, got {value!r}")


def _bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if value is None:
        return False
    raise JavaError(f"{key} must be true or false, got {value!r}", "com.alibaba.fastjson.JSONException")


# -- blocks ----------------------------------------------------------------------------------------------------------


def get_now_block(call: Call) -> Json:
    block = call.chain.solidified if call.solidified else call.chain.head
    return block_json(block, call.visible)


def get_block_by_num(call: Call) -> Json:
    block = call.chain.block(call.integer("num"), solidified=call.solidified)
    return block_json(block, call.visible) if block else {}


def _block_id_param(call: Call, key: str) -> bytes:
    value = call.hex(key)
    if len(value) != 32:
        raise JavaError(f"{key} must be a 32-byte block id (64 hex digits)")
    return value


def get_block_by_id(call: Call) -> Json:
    block = call.chain.block_by_id(_block_id_param(call, "value"), solidified=call.solidified)
    return block_json(block, call.visible) if block else {}


def get_block(call: Call) -> Json:
    """POST /wallet/getblock {"id_or_num": "<number or id>", "detail": bool}: the head without id_or_num."""
    detail = _bool(call.params.get("detail", False), "detail")
    value = call.params.get("id_or_num")
    if value is None or value == "":
        block = call.chain.solidified if call.solidified else call.chain.head
    elif isinstance(value, int) or (isinstance(value, str) and value.isdigit() and len(value) < 20):
        block = call.chain.block(int(value), solidified=call.solidified)
    else:
        block = call.chain.block_by_id(_block_id_param(call, "id_or_num"), solidified=call.solidified)
    return block_json(block, call.visible, detail=detail) if block else {}


def get_block_by_limit_next(call: Call) -> Json:
    start, end = call.integer("startNum"), call.integer("endNum")
    if not (0 <= start < end and end - start <= BLOCK_LIMIT):
        return {}
    blocks = [b for n in range(start, end) if (b := call.chain.block(n, solidified=call.solidified))]
    return {"block": [block_json(b, call.visible) for b in blocks]} if blocks else {}


def get_block_by_latest_num(call: Call) -> Json:
    count = call.integer("num")
    if not 0 < count <= BLOCK_LIMIT:
        return {}
    top = call.chain.solidified_number if call.solidified else call.chain.head.number
    numbers = range(max(0, top - count + 1), top + 1)
    return {"block": [block_json(call.chain.blocks[n], call.visible) for n in numbers]}


# -- transactions and receipts ---------------------------------------------------------------------------------------


def _txid_param(call: Call) -> bytes:
    value = call.hex("value")
    if len(value) != 32:
        raise JavaError("value must be a 32-byte transaction id (64 hex digits)")
    return value


def get_transaction_by_id(call: Call) -> Json:
    found = call.chain.locate(_txid_param(call), solidified=call.solidified)
    if found is None:
        return {}
    block, index = found
    return transaction_json(block.transactions[index], call.visible)


def get_transaction_info_by_id(call: Call) -> Json:
    found = call.chain.locate(_txid_param(call), solidified=call.solidified)
    if found is None:
        return {}
    block, index = found
    return receipt_json(block.receipts[index], call.visible)


def get_transaction_info_by_block_num(call: Call) -> Json:
    block = call.chain.block(call.integer("num"), solidified=call.solidified)
    return [receipt_json(r, call.visible) for r in block.receipts] if block else []


def _read_transaction(call: Call) -> protocol.Transaction:
    """The transaction of a broadcast body. Like java-tron, raw_data is read from its JSON view when present and
    raw_data_hex ignored: a client that edits raw_data but sends a stale raw_data_hex fails here as on TronGrid.
    """
    body = dict(call.params)
    if "raw_data" in body:
        body.pop("raw_data_hex", None)
    try:
        return transaction_from_json(body)
    except TxidMismatch:
        raise  # a MalformedTransaction too, but callers answer it themselves
    except MalformedTransaction as error:
        raise JavaError(str(error), "org.tron.core.services.http.JsonFormat$ParseException") from None


def _broadcast_answer(result: BroadcastResult, visible: bool) -> dict[str, Any]:
    if result.ok:
        return {"result": True, "txid": result.txid}
    out: dict[str, Any] = {"code": result.code}
    if result.message:
        out["message"] = text_json(result.message, visible)
    out["txid"] = result.txid
    return out


def broadcast_transaction(call: Call) -> Json:
    try:
        tx = _read_transaction(call)
    except TxidMismatch as mismatch:
        # java-tron hashes raw_data itself; a txID that is not that hash means the signature is over other bytes.
        message = f"validate signature error txID {mismatch.claimed} is not sha256(raw_data) {mismatch.computed}"
        return _broadcast_answer(BroadcastResult(mismatch.computed, "SIGERROR", message), call.visible)
    return _broadcast_answer(call.chain.broadcast(tx), call.visible)


def broadcast_hex(call: Call) -> Json:
    raw = call.hex("transaction")
    try:
        tx = protocol.Transaction.FromString(raw)
    except Exception:  # protobuf's DecodeError and friends: the bytes are not a Transaction
        raise JavaError("transaction is not a serialized Transaction",
                        "com.google.protobuf.InvalidProtocolBufferException") from None
    result = call.chain.broadcast(tx)
    return {
        "result": result.ok,
        "code": result.code,
        "message": result.message,
        "transaction": json.dumps(transaction_to_json(tx, visible=True), separators=(",", ":")),
        "txid": result.txid,
    }


def get_sign_weight(call: Call) -> Json:
    """java-tron's TransactionSignWeight; tronpy reads the txid from it (devnet computes it from raw_data)."""
    try:
        tx = _read_transaction(call)
    except TxidMismatch as mismatch:
        raise JavaError(str(mismatch), "org.tron.core.services.http.JsonFormat$ParseException") from None
    tx_view = transaction_to_json(tx, visible=call.visible)
    tx_view.pop("visible", None)
    if not tx_view["signature"]:
        del tx_view["signature"]
    txid = bytes.fromhex(tx_view["txID"])
    answer: dict[str, Any] = {}
    result: dict[str, Any] = {}
    owner = _owner_of(tx)
    if owner is None or call.chain.ledger().account(owner) is None:
        result = {"code": "PERMISSION_ERROR", "message": "Account does not exist!"}
    else:
        answer["permission"] = owner_permission_json(owner, call.visible)
        approved = []
        for signature in tx.signature:
            try:
                approved.append(decode_address(recover_address(txid, signature[:65])))
            except ChainError:
                result = {"code": "SIGNATURE_FORMAT_ERROR", "message": f"Signature size is {len(signature)}"}
                break
        if not result:
            if approved:
                answer["approved_list"] = [address_json(a, call.visible) for a in approved]
            weight = sum(1 for a in approved if a == owner)
            if weight:
                answer["current_weight"] = weight
            if weight < 1:
                result = {"code": "NOT_ENOUGH_PERMISSION"}
    answer["result"] = result
    answer["transaction"] = {"result": {"result": True}, "txid": txid.hex(), "transaction": tx_view}
    return answer


def _owner_of(tx: protocol.Transaction) -> bytes | None:
    if len(tx.raw_data.contract) != 1:
        return None
    try:
        return decode_address(decode_contract(tx.raw_data.contract[0]).owner_address)
    except MalformedTransaction:
        return None


# -- building transactions -------------------------------------------------------------------------------------------


def _built(call: Call, contract: protocol.Transaction.Contract, *, fee_limit: int = 0, validate: bool = True) -> Json:
    """A transaction around `contract` referring to the head, as java-tron's create* paths answer it."""
    chain = call.chain
    permission_id = call.integer("Permission_id", 0)
    if permission_id:
        contract.Permission_id = permission_id
    memo = call.params.get("extra_data", "")
    if not isinstance(memo, str):
        raise JavaError("extra_data must be a string")
    reference = chain.reference_block()
    now = chain.now_ms()
    try:
        tx = build_transaction(
            contract,
            ref_block_number=reference.number,
            ref_block_id=reference.id,
            expiration_ms=now + DEFAULT_EXPIRATION_MS,
            timestamp_ms=now,
            fee_limit_sun=fee_limit,
            memo=memo.encode() if call.visible else call.hex("extra_data"),
        )
    except ChainError as error:
        raise JavaError(str(error)) from None
    if validate:
        _validate_only(call, tx)
    view = transaction_to_json(tx, visible=call.visible)
    if not view["signature"]:
        del view["signature"]
    return view


def _validate_only(call: Call, tx: protocol.Transaction) -> None:
    """Validate the contract against the pending state, as java-tron's createTransactionCapsule does.

    Bandwidth is not checked here: java-tron builds the transaction anyway and refuses it at broadcast.
    """
    try:
        call.chain.validate_contract(decode_transaction(tx))
    except ContractValidateError as error:
        raise JavaError(str(error), "org.tron.core.exception.ContractValidateException") from None


def _chain_call(builder: Callable[..., protocol.Transaction.Contract], *args: Any, **kwargs: Any) -> Any:
    try:
        return builder(*args, **kwargs)
    except ChainError as error:
        raise JavaError(str(error)) from None


def create_transaction(call: Call) -> Json:
    owner, to = call.address("owner_address"), call.address("to_address")
    contract = _chain_call(transfer_contract, to_base58(owner), to_base58(to), call.integer("amount"))
    return _built(call, contract)


def freeze_balance_v2_path(call: Call) -> Json:
    owner = call.address("owner_address")
    contract = _chain_call(freeze_balance_v2, to_base58(owner), call.integer("frozen_balance"), call.resource())
    return _built(call, contract)


def unfreeze_balance_v2_path(call: Call) -> Json:
    owner = call.address("owner_address")
    contract = _chain_call(unfreeze_balance_v2, to_base58(owner), call.integer("unfreeze_balance"), call.resource())
    return _built(call, contract)


def delegate_resource_path(call: Call) -> Json:
    owner, receiver = call.address("owner_address"), call.address("receiver_address")
    lock = _bool(call.params.get("lock", False), "lock")
    contract = _chain_call(
        delegate_resource, to_base58(owner), to_base58(receiver), call.integer("balance"), call.resource(),
        lock=lock, lock_period=call.integer("lock_period", 0),
    )
    return _built(call, contract)


def undelegate_resource_path(call: Call) -> Json:
    owner, receiver = call.address("owner_address"), call.address("receiver_address")
    contract = _chain_call(undelegate_resource, to_base58(owner), to_base58(receiver), call.integer("balance"),
                           call.resource())
    return _built(call, contract)


def withdraw_expire_unfreeze_path(call: Call) -> Json:
    return _built(call, _chain_call(withdraw_expire_unfreeze, to_base58(call.address("owner_address"))))


def cancel_all_unfreeze_v2_path(call: Call) -> Json:
    return _built(call, _chain_call(cancel_all_unfreeze_v2, to_base58(call.address("owner_address"))))


# -- smart contracts -------------------------------------------------------------------------------------------------


def _call_data(call: Call) -> bytes:
    selector_text = call.params.get("function_selector")
    if selector_text:
        if not isinstance(selector_text, str):
            raise JavaError("function_selector must be a string")
        # java-tron hashes the text as given (no normalisation): a space makes another selector.
        return keccak256(selector_text.encode())[:4] + call.hex("parameter")
    return call.hex("data")


def _trigger_target(call: Call) -> tuple[bytes, bytes, bytes]:
    owner = call.address("owner_address")
    target = call.address("contract_address", required=False)
    data = _call_data(call)
    if target is None:
        raise JavaError("At least one of contract_address and data must be set.",
                        "java.security.InvalidParameterException")
    return owner, target, data


def _contract_error(message: str, visible: bool) -> dict[str, Any]:
    return {"result": {"code": "CONTRACT_VALIDATE_ERROR", "message": text_json(message, visible)}}


def _constant_answer(call: Call, owner: bytes, target: bytes, data: bytes) -> Json:
    chain = call.chain
    outcome = chain.token.call(chain.ledger(solidified=call.solidified), owner, data, call.integer("call_value", 0))
    contract = _chain_call(trigger_smart_contract, to_base58(owner), to_base58(target), data,
                           call.integer("call_value", 0))
    view = _built(call, contract, validate=False)
    view["ret"] = [{"ret": "FAILED"}] if outcome.reverted else [{}]
    result: dict[str, Any] = {"result": True}
    if outcome.reverted:
        result["message"] = text_json("REVERT opcode executed", call.visible)
    answer: dict[str, Any] = {
        "result": result,
        "energy_used": outcome.energy,
        "constant_result": [outcome.output.hex()],
    }
    if outcome.logs and not outcome.reverted:
        answer["logs"] = [
            {"address": address_json(log.address, call.visible) if call.visible else log.address[1:].hex(),
             "topics": [t.hex() for t in log.topics], "data": log.data.hex()}
            for log in outcome.logs
        ]
    answer["transaction"] = {"ret": view.pop("ret"), **view}
    return answer


def trigger_smart_contract_path(call: Call) -> Json:
    owner, target, data = _trigger_target(call)
    if target != call.chain.token.address:
        return _contract_error("No contract or not a valid smart contract", call.visible)
    if call.chain.token.is_constant(data):
        return _constant_answer(call, owner, target, data)
    contract = _chain_call(trigger_smart_contract, to_base58(owner), to_base58(target), data,
                           call.integer("call_value", 0))
    fee_limit = call.integer("fee_limit", 0)
    return {"result": {"result": True}, "transaction": _built(call, contract, fee_limit=fee_limit, validate=False)}


def trigger_constant_contract_path(call: Call) -> Json:
    owner, target, data = _trigger_target(call)
    if target != call.chain.token.address:
        return _contract_error("No contract or not a smart contract", call.visible)
    return _constant_answer(call, owner, target, data)


def estimate_energy(call: Call) -> Json:
    owner, target, data = _trigger_target(call)
    if target != call.chain.token.address:
        return _contract_error("contract validate error : No contract or not a smart contract", call.visible)
    ledger = call.chain.ledger(solidified=call.solidified)
    outcome = call.chain.token.call(ledger, owner, data, call.integer("call_value", 0))
    if outcome.reverted:
        return {"result": {"code": "CONTRACT_EXE_ERROR", "message": text_json("REVERT opcode executed", call.visible)}}
    return {"result": {"result": True}, "energy_required": outcome.energy}


def _contract_view(call: Call) -> dict[str, Any]:
    token = call.chain.token
    return {
        "bytecode": token.bytecode.hex(),
        "consume_user_resource_percent": 100,
        "name": "TetherToken",
        "origin_address": address_json(token.origin, call.visible),
        "abi": {"entrys": token.abi},
        "origin_energy_limit": 10_000_000,
        "contract_address": address_json(token.address, call.visible),
        "code_hash": keccak256(token.bytecode).hex(),
    }


def get_contract(call: Call) -> Json:
    address = call.address("value")
    return _contract_view(call) if address == call.chain.token.address else {}


def get_contract_info(call: Call) -> Json:
    address = call.address("value")
    if address != call.chain.token.address:
        return {}
    return {
        "runtimecode": call.chain.token.bytecode.hex(),
        "smart_contract": _contract_view(call),
        "contract_state": {"energy_factor": 0, "update_cycle": call.chain.head.number // 7200},
    }


# -- accounts and resources ------------------------------------------------------------------------------------------


def get_account(call: Call) -> Json:
    address = call.address("address")
    ledger = call.chain.ledger(solidified=call.solidified)
    account = ledger.account(address)
    if account is None:
        return {}
    now = call.chain.solidified.timestamp if call.solidified else call.chain.now_ms()
    return account_json(ledger, account, now, call.visible)


def get_account_resource(call: Call) -> Json:
    ledger = call.chain.ledger(solidified=call.solidified)
    account = ledger.account(call.address("address"))
    return account_resource_json(call.chain, ledger, account, call.chain.now_ms()) if account else {}


def get_account_net(call: Call) -> Json:
    ledger = call.chain.ledger(solidified=call.solidified)
    account = ledger.account(call.address("address"))
    return account_net_json(call.chain, ledger, account, call.chain.now_ms()) if account else {}


def _delegation_json(call: Call, d: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"from": address_json(d.sender, call.visible), "to": address_json(d.receiver, call.visible)}
    for key, value in (
        ("frozen_balance_for_bandwidth", d.bandwidth),
        ("frozen_balance_for_energy", d.energy),
        ("expire_time_for_bandwidth", d.bandwidth_expire_ms),
        ("expire_time_for_energy", d.energy_expire_ms),
    ):
        if value:
            out[key] = value
    return out


def get_delegated_resource_v2(call: Call) -> Json:
    sender, receiver = call.address("fromAddress"), call.address("toAddress")
    records = call.chain.ledger(solidified=call.solidified).delegations_of(sender, receiver)
    return {"delegatedResource": [_delegation_json(call, d) for d in records]} if records else {}


def get_delegated_resource_account_index_v2(call: Call) -> Json:
    address = call.address("value")
    ledger = call.chain.ledger(solidified=call.solidified)
    to_accounts = sorted({receiver for sender, receiver, _ in ledger.delegations if sender == address})
    from_accounts = sorted({sender for sender, receiver, _ in ledger.delegations if receiver == address})
    if not to_accounts and not from_accounts:
        return {}
    out: dict[str, Any] = {"account": address_json(address, call.visible)}
    if from_accounts:
        out["fromAccounts"] = [address_json(a, call.visible) for a in from_accounts]
    if to_accounts:
        out["toAccounts"] = [address_json(a, call.visible) for a in to_accounts]
    return out


def get_can_delegated_max_size(call: Call) -> Json:
    owner = call.address("owner_address")
    resource = call.resource("type")
    ledger = call.chain.ledger(solidified=call.solidified)
    account = ledger.account(owner)
    if account is None or resource not in (BANDWIDTH, ENERGY):
        return {}
    size = can_delegate_max(ledger, account, resource, call.chain.prices, call.chain.now_ms())
    return {"max_size": size} if size else {}


def get_available_unfreeze_count(call: Call) -> Json:
    account = call.chain.ledger(solidified=call.solidified).account(call.address("owner_address"))
    if account is None:
        return {}
    now = call.chain.now_ms()
    count = 32 - sum(1 for u in account.unfreezing if u.expire_time_ms > now)
    return {"count": count} if count else {}


def get_can_withdraw_unfreeze_amount(call: Call) -> Json:
    account = call.chain.ledger(solidified=call.solidified).account(call.address("owner_address"))
    if account is None:
        return {}
    at = call.integer("timestamp", call.chain.now_ms())
    amount = sum(u.amount for u in account.unfreezing if u.expire_time_ms <= at)
    return {"amount": amount} if amount else {}


# -- node ------------------------------------------------------------------------------------------------------------


def get_node_info(call: Call) -> Json:
    chain = call.chain
    head, solid = chain.head, chain.solidified
    return {
        "beginSyncNum": head.number,
        "block": f"Num:{head.number},ID:{head.id.hex()}",
        "solidityBlock": f"Num:{solid.number},ID:{solid.id.hex()}",
        "currentConnectCount": 0,
        "activeConnectCount": 0,
        "passiveConnectCount": 0,
        "totalFlow": 0,
        "peerList": [],
        "configNodeInfo": {
            "codeVersion": "lucid-devnet",
            "p2pVersion": str(chain.chain_id),
            "versionNum": "devnet",
            "supportConstant": True,
            "dbVersion": 2,
            "blockProducedTimeOut": 50,
        },
        "machineInfo": {},
        "cheatWitnessInfoMap": {},
    }


def get_chain_parameters(call: Call) -> Json:
    prices = call.chain.prices
    parameters = [
        ("getMaintenanceTimeInterval", 21_600_000),
        ("getCreateAccountFee", prices.create_account_fee_sun),
        ("getTransactionFee", prices.sun_per_bandwidth_point),
        ("getCreateNewAccountFeeInSystemContract", prices.create_new_account_fee_in_system_contract_sun),
        ("getCreateNewAccountBandwidthRate", 1),
        ("getEnergyFee", prices.sun_per_energy),
        ("getTotalEnergyLimit", prices.total_energy_limit),
        ("getTotalEnergyCurrentLimit", prices.total_energy_limit),
        ("getFreeNetLimit", prices.free_bandwidth_per_day),
        ("getTotalNetLimit", prices.total_net_limit),
        ("getMaxFeeLimit", prices.max_fee_limit_sun),
        ("getMemoFee", prices.memo_fee_sun),
        ("getAllowTvmFreezeV2", 1),
        ("getUnfreezeDelayDays", 0),
        ("getAllowDelegateResource", 1),
        ("getMaxDelegateLockPeriod", 86_400),
        ("getAllowMultiSign", 1),
        ("getAllowTvmTransferTrc10", 0),
    ]
    return {"chainParameter": [{"key": k, "value": v} if v else {"key": k} for k, v in parameters]}


def get_bandwidth_prices(call: Call) -> Json:
    return {"prices": f"0:{call.chain.prices.sun_per_bandwidth_point}"}


def get_energy_prices(call: Call) -> Json:
    return {"prices": f"0:{call.chain.prices.sun_per_energy}"}


def validate_address(call: Call) -> Json:
    value = call.params.get("address", "")
    try:
        decode_address(value)
    except InvalidAddress:
        return {"result": False, "message": "Invalid address"}
    kind = "Hex string format" if re.fullmatch(r"[0-9a-fA-F]+", value) else "Base58check format"
    return {"result": True, "message": kind}


# Paths served under /wallet/ (True: also under /walletsolidity/, reading the solidified state).
WALLET_PATHS: dict[str, tuple[Callable[[Call], Json], bool]] = {
    "getnowblock": (get_now_block, True),
    "getblockbynum": (get_block_by_num, True),
    "getblockbyid": (get_block_by_id, True),
    "getblock": (get_block, True),
    "getblockbylimitnext": (get_block_by_limit_next, True),
    "getblockbylatestnum": (get_block_by_latest_num, True),
    "getaccount": (get_account, True),
    "getaccountresource": (get_account_resource, False),
    "getaccountnet": (get_account_net, False),
    "createtransaction": (create_transaction, False),
    "triggersmartcontract": (trigger_smart_contract_path, False),
    "triggerconstantcontract": (trigger_constant_contract_path, True),
    "estimateenergy": (estimate_energy, True),
    "freezebalancev2": (freeze_balance_v2_path, False),
    "unfreezebalancev2": (unfreeze_balance_v2_path, False),
    "delegateresource": (delegate_resource_path, False),
    "undelegateresource": (undelegate_resource_path, False),
    "withdrawexpireunfreeze": (withdraw_expire_unfreeze_path, False),
    "cancelallunfreezev2": (cancel_all_unfreeze_v2_path, False),
    "broadcasttransaction": (broadcast_transaction, False),
    "broadcasthex": (broadcast_hex, False),
    "gettransactionbyid": (get_transaction_by_id, True),
    "gettransactioninfobyid": (get_transaction_info_by_id, True),
    "gettransactioninfobyblocknum": (get_transaction_info_by_block_num, True),
    "getchainparameters": (get_chain_parameters, False),
    "getnodeinfo": (get_node_info, True),
    "getsignweight": (get_sign_weight, False),
    "getcontract": (get_contract, False),
    "getcontractinfo": (get_contract_info, False),
    "getdelegatedresourcev2": (get_delegated_resource_v2, True),
    "getdelegatedresourceaccountindexv2": (get_delegated_resource_account_index_v2, True),
    "getcandelegatedmaxsize": (get_can_delegated_max_size, True),
    "getavailableunfreezecount": (get_available_unfreeze_count, True),
    "getcanwithdrawunfreezeamount": (get_can_withdraw_unfreeze_amount, True),
    "getbandwidthprices": (get_bandwidth_prices, False),
    "getenergyprices": (get_energy_prices, False),
    "validateaddress": (validate_address, False),
}


async def _params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        text = await request.text()
        if text.strip():
            try:
                body = json.loads(text)
            except ValueError as error:
                raise JavaError(f"syntax error, {error}", "com.alibaba.fastjson.JSONException") from None
            if not isinstance(body, dict):
                raise JavaError(f"can not cast to JSONObject: {type(body).__name__}", "java.lang.ClassCastException")
            params.update(body)
    return params


def _json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(data, separators=(",", ":")), status=status, content_type="application/json", headers=headers
    )


def _wallet_handler(devnet: Devnet, handler: Callable[[Call], Json], solidified: bool) -> Callable[
    [web.Request], Awaitable[web.Response]
]:
    async def handle(request: web.Request) -> web.Response:
        call = Call(devnet, await _params(request), solidified)
        return _json_response(handler(call))

    return handle


# -- TronGrid v1 -----------------------------------------------------------------------------------------------------


def _v1_bool(request: web.Request, key: str) -> bool:
    value = request.query.get(key, "false").lower()
    if value not in ("true", "false"):
        raise V1Error(f"{key} must be true or false")
    return value == "true"


def _fingerprint(position: tuple[int, int, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode().rstrip("=")


def _position(fingerprint: str) -> tuple[int, int, int]:
    try:
        padded = fingerprint + "=" * (-len(fingerprint) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded))
        if len(values) != 3 or not all(isinstance(v, int) for v in values):
            raise ValueError
        return values[0], values[1], values[2]
    except (ValueError, TypeError):
        raise V1Error("invalid fingerprint") from None


def trc20_history(devnet: Devnet, request: web.Request) -> Json:
    """GET /v1/accounts/{address}/transactions/trc20: Transfer and Approval events of the account, newest first."""
    chain = devnet.chain
    try:
        account = decode_address(request.match_info["address"])
    except InvalidAddress:
        raise V1Error("Invalid address") from None
    only_confirmed = _v1_bool(request, "only_confirmed")
    only_unconfirmed = _v1_bool(request, "only_unconfirmed")
    if only_confirmed and only_unconfirmed:
        raise V1Error("only_confirmed and only_unconfirmed cannot both be true")
    only_to, only_from = _v1_bool(request, "only_to"), _v1_bool(request, "only_from")
    try:
        limit = int(request.query.get("limit", V1_DEFAULT_LIMIT))
        min_ts = int(request.query.get("min_timestamp", 0))
        max_ts = int(request.query.get("max_timestamp", 2**63 - 1))
    except ValueError:
        raise V1Error("limit, min_timestamp and max_timestamp must be integers") from None
    if not 1 <= limit <= V1_MAX_LIMIT:
        raise V1Error(f"limit must be between 1 and {V1_MAX_LIMIT}")
    order = request.query.get("order_by", "block_timestamp,desc")
    if order not in ("block_timestamp,desc", "block_timestamp,asc"):
        raise V1Error("order_by must be block_timestamp,desc or block_timestamp,asc")
    descending = order.endswith("desc")
    contract_filter = request.query.get("contract_address")
    if contract_filter:
        try:
            wanted_contract = decode_address(contract_filter)
        except InvalidAddress:
            raise V1Error("Invalid contract_address") from None
    else:
        wanted_contract = None
    after = _position(request.query["fingerprint"]) if request.query.get("fingerprint") else None

    token = chain.token
    solid = chain.solidified_number
    entries = []
    for block, index, receipt in chain.iter_receipts():
        if only_confirmed and block.number > solid or only_unconfirmed and block.number <= solid:
            continue
        if not min_ts <= block.timestamp <= max_ts:
            continue
        for log_index, log in enumerate(receipt.logs):
            if log.address != token.address or (wanted_contract and wanted_contract != log.address):
                continue
            sender = b"\x41" + log.topics[1][12:]
            receiver = b"\x41" + log.topics[2][12:]
            if account not in (sender, receiver) or only_to and receiver != account or only_from and sender != account:
                continue
            kind = "Transfer" if log.topics[0] == _TRANSFER_TOPIC else "Approval"
            entries.append(((block.number, index, log_index), block, receipt, sender, receiver, kind, log.data))
    entries.sort(key=lambda e: e[0], reverse=descending)
    if after is not None:
        entries = [e for e in entries if (e[0] < after if descending else e[0] > after)]
    page, more = entries[:limit], len(entries) > limit
    data = [
        {
            "transaction_id": receipt.txid.hex(),
            "token_info": {"symbol": token.symbol, "address": to_base58(token.address), "decimals": token.decimals,
                           "name": token.name},
            "block_timestamp": block.timestamp,
            "from": to_base58(sender),
            "to": to_base58(receiver),
            "type": kind,
            "value": str(int.from_bytes(value, "big")),
        }
        for _, block, receipt, sender, receiver, kind, value in page
    ]
    meta: dict[str, Any] = {"at": chain.now_ms(), "page_size": len(data)}
    if more:
        fingerprint = _fingerprint(page[-1][0])
        meta["fingerprint"] = fingerprint
        query = dict(request.query)
        query["fingerprint"] = fingerprint
        meta["links"] = {"next": str(request.url.with_query(query))}
    return {"data": data, "success": True, "meta": meta}


_TRANSFER_TOPIC = keccak256(b"Transfer(address,address,uint256)")


# -- devnet admin ----------------------------------------------------------------------------------------------------


def _block_summary(block: Any) -> dict[str, Any]:
    return {"number": block.number, "blockID": block.id.hex(), "timestamp": block.timestamp,
            "transactions": [r.txid.hex() for r in block.receipts]}


async def admin_produce_block(devnet: Devnet, request: web.Request) -> web.Response:
    params = await _params(request)
    count = params.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
        return _json_response({"Error": "count must be an integer between 1 and 1000"}, status=400)
    blocks = [devnet.chain.produce_block() for _ in range(count)]
    return _json_response({"blocks": [_block_summary(b) for b in blocks], **_heads(devnet)})


def _heads(devnet: Devnet) -> dict[str, Any]:
    return {"head": devnet.chain.head.number, "solidified": devnet.chain.solidified_number}


async def admin_fund(devnet: Devnet, request: web.Request) -> web.Response:
    params = await _params(request)
    try:
        address = decode_address(params.get("address", ""))
    except InvalidAddress as error:
        return _json_response({"Error": f"invalid address: {error}"}, status=400)
    amounts = {key: params.get(key, 0) for key in ("trx_sun", "usdt_units")}
    for key, value in amounts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return _json_response({"Error": f"{key} must be a non-negative integer"}, status=400)
    devnet.chain.fund(address, amounts["trx_sun"], amounts["usdt_units"])
    ledger = devnet.chain.ledger()
    account = ledger.account(address)
    return _json_response({
        "address": to_base58(address),
        "balance": account.balance if account else 0,
        "usdt_balance": ledger.usdt_balances.get(address, 0),
    })


async def admin_reorg(devnet: Devnet, request: web.Request) -> web.Response:
    params = await _params(request)
    depth = params.get("depth", 1)
    requeue = params.get("requeue", False)
    if isinstance(depth, bool) or not isinstance(depth, int) or not isinstance(requeue, bool):
        return _json_response({"Error": "depth must be an integer and requeue a boolean"}, status=400)
    try:
        taken_out = devnet.chain.reorg(depth, requeue=requeue)
    except ReorgError as error:
        return _json_response({"Error": str(error)}, status=400)
    return _json_response({"transactions": [t.hex() for t in taken_out], "requeued": requeue, **_heads(devnet)})


async def admin_faults(devnet: Devnet, request: web.Request) -> web.Response:
    if request.method == "DELETE":
        devnet.faults.clear()
    elif request.method == "POST":
        params = await _params(request)
        bodies = params["rules"] if isinstance(params.get("rules"), list) else [params]
        try:
            rules = [FaultRule.from_json(body) for body in bodies]
        except (TypeError, ValueError) as error:
            return _json_response({"Error": f"invalid fault rule: {error}"}, status=400)
        for rule in rules:
            devnet.faults.add(rule)
    return _json_response({"rules": [rule.to_json() for rule in devnet.faults.rules]})


async def admin_info(devnet: Devnet, request: web.Request) -> web.Response:
    return _json_response(devnet.info())


# -- application -----------------------------------------------------------------------------------------------------


def _fault_middleware(devnet: Devnet) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def faults(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
        decision = devnet.faults.decide(request.path)
        if decision.latency_ms:
            await asyncio.sleep(decision.latency_ms / 1000)
        if decision.drop:
            # Close the connection without a byte of answer, as a crashed proxy or a reset would.
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        if decision.status is not None:
            headers = {"Retry-After": str(decision.retry_after_s)} if decision.retry_after_s is not None else None
            message = "Too Many Requests" if decision.status == 429 else f"injected HTTP {decision.status}"
            return _json_response({"Error": f"devnet fault injection: {message}"}, decision.status, headers)
        return await handler(request)

    return faults


@web.middleware
async def _error_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    try:
        return await handler(request)
    except JavaError as error:
        return _json_response(error.body)
    except V1Error as error:
        return _json_response({"success": False, "error": str(error), "statusCode": error.status}, error.status)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return _json_response({"Error": f"{error.status} {error.reason}: {request.method} {request.path}"},
                              error.status)
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        logger.exception("devnet failed on %s %s", request.method, request.path)
        return _json_response({"Error": "class java.lang.Exception : devnet internal error (see its log)"}, 500)


def build_app(devnet: Devnet) -> web.Application:
    """The aiohttp application serving `devnet`."""
    app = web.Application(middlewares=[_error_middleware, _fault_middleware(devnet)], client_max_size=MAX_BODY_BYTES)
    for name, (handler, also_solidified) in WALLET_PATHS.items():
        for prefix, solidified in (("/wallet/", False), ("/walletsolidity/", True)):
            if solidified and not also_solidified:
                continue
            route = _wallet_handler(devnet, handler, solidified)
            app.router.add_route("POST", prefix + name, route)
            app.router.add_route("GET", prefix + name, route)

    async def history(request: web.Request) -> web.Response:
        return _json_response(trc20_history(devnet, request))

    app.router.add_get("/v1/accounts/{address}/transactions/trc20", history)

    def admin(handler: Callable[[Devnet, web.Request], Awaitable[web.Response]]):
        async def handle(request: web.Request) -> web.Response:
            return await handler(devnet, request)

        return handle

    app.router.add_post("/devnet/produce-block", admin(admin_produce_block))
    app.router.add_post("/devnet/fund", admin(admin_fund))
    app.router.add_post("/devnet/reorg", admin(admin_reorg))
    app.router.add_route("*", "/devnet/faults", admin(admin_faults))
    app.router.add_get("/devnet/info", admin(admin_info))
    app.router.add_post("/devnet/info", admin(admin_info))
    return app

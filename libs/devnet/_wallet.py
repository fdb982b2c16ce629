"""TronGrid's /wallet/ and /walletsolidity/ paths over the devnet chain.

Every path takes POST with a JSON body (or GET with query parameters), honours `visible` and answers as
java-tron does: HTTP 200 with the message, {} when nothing is found, and {"Error": "class <java exception> :
<message>"} for a request it cannot read. Paths marked True in WALLET_PATHS also exist under /walletsolidity/,
reading the solidified state.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

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

from ._chain import BroadcastResult, Chain
from ._executor import ContractValidateError
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
from ._trc20 import CallOutcome, NativeContract
from ._web import Call, JavaError, Json, chain_for, java_bool, json_response, read_params

__all__ = ["WALLET_PATHS", "add_wallet_routes"]

DEFAULT_EXPIRATION_MS = 60_000
BLOCK_LIMIT = 100  # java-tron's BLOCK_LIMIT_NUM for block range queries


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
    detail = java_bool(call.params.get("detail", False), "detail")
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
    lock = java_bool(call.params.get("lock", False), "lock")
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


def _run_constant(call: Call, owner: bytes, target: bytes, data: bytes) -> CallOutcome:
    """Run a call without committing it, in the maintenance period of the head (a node estimates with the energy
    factor it has now; the transaction may execute in the next period, at another factor)."""
    chain = call.chain
    return chain.contracts[target].call(
        chain.ledger(solidified=call.solidified), owner, data, call.integer("call_value", 0),
        period=chain.period_of(chain.head.number),
    )


def _constant_answer(call: Call, owner: bytes, target: bytes, data: bytes) -> Json:
    outcome = _run_constant(call, owner, target, data)
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
    called = call.chain.contracts.get(target)
    if called is None:
        return _contract_error("No contract or not a valid smart contract", call.visible)
    if called.is_constant(data):
        return _constant_answer(call, owner, target, data)
    contract = _chain_call(trigger_smart_contract, to_base58(owner), to_base58(target), data,
                           call.integer("call_value", 0))
    fee_limit = call.integer("fee_limit", 0)
    return {"result": {"result": True}, "transaction": _built(call, contract, fee_limit=fee_limit, validate=False)}


def trigger_constant_contract_path(call: Call) -> Json:
    owner, target, data = _trigger_target(call)
    if target not in call.chain.contracts:
        return _contract_error("No contract or not a smart contract", call.visible)
    return _constant_answer(call, owner, target, data)


def estimate_energy(call: Call) -> Json:
    owner, target, data = _trigger_target(call)
    if target not in call.chain.contracts:
        return _contract_error("contract validate error : No contract or not a smart contract", call.visible)
    outcome = _run_constant(call, owner, target, data)
    if outcome.reverted:
        return {"result": {"code": "CONTRACT_EXE_ERROR", "message": text_json("REVERT opcode executed", call.visible)}}
    return {"result": {"result": True}, "energy_required": outcome.energy}


def _contract_view(call: Call, contract: NativeContract) -> dict[str, Any]:
    return {
        "bytecode": contract.bytecode.hex(),
        "consume_user_resource_percent": 100,
        "name": contract.contract_name,
        "origin_address": address_json(contract.origin, call.visible),
        "abi": {"entrys": contract.abi},
        "origin_energy_limit": 10_000_000,
        "contract_address": address_json(contract.address, call.visible),
        "code_hash": keccak256(contract.bytecode).hex(),
    }


def get_contract(call: Call) -> Json:
    contract = call.chain.contracts.get(call.address("value"))
    return _contract_view(call, contract) if contract else {}


def get_contract_info(call: Call) -> Json:
    contract = call.chain.contracts.get(call.address("value"))
    if contract is None:
        return {}
    period = call.chain.period_of(call.chain.head.number)
    return {
        "runtimecode": contract.bytecode.hex(),
        "smart_contract": _contract_view(call, contract),
        "contract_state": {"energy_factor": contract.energy_factor(period), "update_cycle": period},
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


def add_wallet_routes(app: web.Application, chain: Chain) -> None:
    """Serve WALLET_PATHS under /wallet/ and, where marked, /walletsolidity/ (POST and GET)."""
    for name, (handler, also_solidified) in WALLET_PATHS.items():
        for prefix, solidified in (("/wallet/", False), ("/walletsolidity/", True)):
            if solidified and not also_solidified:
                continue
            route = _route(chain, handler, solidified)
            app.router.add_route("POST", prefix + name, route)
            app.router.add_route("GET", prefix + name, route)


def _route(chain: Chain, handler: Callable[[Call], Json], solidified: bool) -> Callable[
    [web.Request], Awaitable[web.Response]
]:
    async def handle(request: web.Request) -> web.Response:
        return json_response(handler(Call(chain_for(request, chain), await read_params(request), solidified)))

    return handle

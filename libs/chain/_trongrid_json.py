"""Transactions in TronGrid's JSON shape, the form devnet, TronGrid and tronpy exchange over HTTP::

    {"visible": false, "txID": "<hex>", "raw_data": {...}, "raw_data_hex": "<hex>", "signature": ["<hex>"]}

raw_data is the JSON view TRON's JsonFormat prints: proto field names, default values left out, bytes as hex,
addresses as "41..." hex (base58 with visible=true), enums by name, and each contract as
{"parameter": {"value": {...}, "type_url": "type.googleapis.com/protocol.<type>"}, "type": "<type>"}.

Reading, raw_data_hex is trusted over the JSON view; the JSON view is used only when raw_data_hex is absent, as
tronpy sends to broadcasttransaction and getsignweight. A txID that is not sha256(raw_data) raises TxidMismatch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass

from lucid.tron.chain import protocol_pb2 as protocol

from ._address import decode_address, to_base58
from ._contracts import CONTRACT_MESSAGES, TYPE_URL_PREFIX
from ._exceptions import InvalidAddress, MalformedTransaction, TxidMismatch
from ._transactions import raw_data_bytes

__all__ = [
    "raw_data_from_json",
    "raw_data_to_json",
    "transaction_from_json",
    "transaction_to_json",
]

_INT_RANGES = {
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
}


def transaction_to_json(tx: protocol.Transaction, *, visible: bool = False) -> dict[str, Any]:
    """TronGrid's JSON of a transaction; txID and raw_data_hex are computed here from the raw_data bytes."""
    raw_bytes = raw_data_bytes(tx)
    out: dict[str, Any] = {
        "visible": visible,
        "txID": hashlib.sha256(raw_bytes).hexdigest(),
        "raw_data": raw_data_to_json(tx.raw_data, visible=visible),
        "raw_data_hex": raw_bytes.hex(),
        "signature": [signature.hex() for signature in tx.signature],
    }
    if len(tx.ret):
        out["ret"] = [_message_to_json(result, visible=visible) for result in tx.ret]
    return out


def raw_data_to_json(raw: protocol.Transaction.raw, *, visible: bool = False) -> dict[str, Any]:
    """The JSON view of raw_data, contract first as TronGrid prints it."""
    view = _message_to_json(raw, visible=visible)
    return {"contract": view.pop("contract", []), **view}


def transaction_from_json(data: Mapping[str, Any]) -> protocol.Transaction:
    """The transaction in TronGrid JSON: raw_data from raw_data_hex when present, else from the raw_data JSON view.

    Keys other than txID, raw_data, raw_data_hex, signature and ret (e.g. visible, tronpy's permission) are not
    part of the transaction and are ignored. Addresses in the JSON view may be hex or base58 whatever `visible` says.
    """
    if not isinstance(data, Mapping):
        raise MalformedTransaction(f"transaction JSON must be an object, got {type(data).__name__}")
    if "raw_data_hex" in data:
        raw_bytes = _hex(data["raw_data_hex"], "raw_data_hex")
        raw = protocol.Transaction.raw()
        try:
            raw.ParseFromString(raw_bytes)
        except DecodeError as error:
            raise MalformedTransaction(f"raw_data_hex is not a Transaction.raw: {error}") from None
        if raw.SerializeToString(deterministic=True) != raw_bytes:
            raise MalformedTransaction("raw_data_hex is not canonically encoded", reason="NON_CANONICAL")
    elif "raw_data" in data:
        raw = raw_data_from_json(data["raw_data"])
        raw_bytes = raw.SerializeToString(deterministic=True)
    else:
        raise MalformedTransaction("transaction JSON has neither raw_data_hex nor raw_data")
    claimed = data.get("txID") or ""
    computed = hashlib.sha256(raw_bytes).hexdigest()
    if claimed:
        if not isinstance(claimed, str):
            raise MalformedTransaction(f"txID must be a hex string, got {type(claimed).__name__}")
        if claimed.lower() != computed:
            raise TxidMismatch(claimed, computed)
    tx = protocol.Transaction(raw_data=raw)
    signatures = data.get("signature") or []
    if not isinstance(signatures, list):
        raise MalformedTransaction("signature must be a list of hex strings")
    tx.signature.extend(_hex(signature, f"signature[{i}]") for i, signature in enumerate(signatures))
    results = data.get("ret") or []
    if not isinstance(results, list):
        raise MalformedTransaction("ret must be a list")
    for i, result in enumerate(results):
        tx.ret.add().CopyFrom(_message_from_json(protocol.Transaction.Result, result, f"ret[{i}]"))
    return tx


def raw_data_from_json(view: Mapping[str, Any]) -> protocol.Transaction.raw:
    """raw_data from its JSON view (as tronpy builds it or TronGrid prints it); MalformedTransaction for any key,
    contract type or value that does not fit TRON's schema.
    """
    return _message_from_json(protocol.Transaction.raw, view, "raw_data")  # type: ignore[return-value]


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _message_to_json(message: Message, *, visible: bool) -> dict[str, Any]:
    if isinstance(message, protocol.Transaction.Contract):
        return _contract_to_json(message, visible=visible)
    out: dict[str, Any] = {}
    for field, value in message.ListFields():
        if _is_map(field):
            value_field = field.message_type.fields_by_name["value"]
            out[field.name] = {key: _scalar_to_json(value_field, item, visible) for key, item in value.items()}
        elif field.is_repeated:
            out[field.name] = [_element_to_json(field, item, visible) for item in value]
        else:
            out[field.name] = _element_to_json(field, value, visible)
    return out


def _element_to_json(field: FieldDescriptor, value: Any, visible: bool) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return _message_to_json(value, visible=visible)
    return _scalar_to_json(field, value, visible)


def _scalar_to_json(field: FieldDescriptor, value: Any, visible: bool) -> Any:
    if field.type == FieldDescriptor.TYPE_BYTES:
        if visible and field.name.endswith("_address"):
            return to_base58(value)
        return value.hex()
    if field.type == FieldDescriptor.TYPE_ENUM:
        known = field.enum_type.values_by_number.get(value)
        return known.name if known is not None else value
    return value


def _contract_to_json(contract: protocol.Transaction.Contract, *, visible: bool) -> dict[str, Any]:
    type_name = _contract_type_name(contract.type)
    message_type = CONTRACT_MESSAGES.get(type_name)
    if message_type is None:
        raise MalformedTransaction(f"contract type {type_name} has no JSON view here", reason="UNSUPPORTED_CONTRACT")
    value = message_type()
    try:
        value.ParseFromString(contract.parameter.value)
    except DecodeError as error:
        raise MalformedTransaction(f"{type_name} parameter is not a valid {type_name}: {error}") from None
    out: dict[str, Any] = {
        "parameter": {"value": _message_to_json(value, visible=visible), "type_url": contract.parameter.type_url},
        "type": type_name,
    }
    if contract.provider:
        out["provider"] = contract.provider.hex()
    if contract.ContractName:
        out["ContractName"] = contract.ContractName.hex()
    if contract.Permission_id:
        out["Permission_id"] = contract.Permission_id
    return out


def _contract_type_name(number: int) -> str:
    enum = protocol.Transaction.Contract.ContractType
    return enum.Name(number) if number in enum.values() else str(number)


def _message_from_json(message_type: type[Message], view: Any, path: str) -> Message:
    if message_type is protocol.Transaction.Contract:
        return _contract_from_json(view, path)
    if not isinstance(view, Mapping):
        raise MalformedTransaction(f"{path} must be a JSON object, got {type(view).__name__}")
    descriptor: Descriptor = message_type.DESCRIPTOR
    message = message_type()
    for key, item in view.items():
        field = descriptor.fields_by_name.get(key)
        if field is None:
            raise MalformedTransaction(f"{path}.{key} is not a field of TRON's {descriptor.name}")
        _set_field(message, field, item, f"{path}.{key}")
    return message


def _set_field(message: Message, field: FieldDescriptor, item: Any, path: str) -> None:
    if _is_map(field):
        if not isinstance(item, Mapping):
            raise MalformedTransaction(f"{path} must be a JSON object")
        key_field = field.message_type.fields_by_name["key"]
        value_field = field.message_type.fields_by_name["value"]
        target = getattr(message, field.name)
        for key, value in item.items():
            target[_scalar_from_json(key_field, key, f"{path}.{key}")] = _scalar_from_json(
                value_field, value, f"{path}.{key}"
            )
    elif field.is_repeated:
        if not isinstance(item, list):
            raise MalformedTransaction(f"{path} must be a JSON list")
        target = getattr(message, field.name)
        for i, element in enumerate(item):
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                element_type = GetMessageClass(field.message_type)
                target.add().CopyFrom(_message_from_json(element_type, element, f"{path}[{i}]"))
            else:
                target.append(_scalar_from_json(field, element, f"{path}[{i}]"))
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        getattr(message, field.name).CopyFrom(_message_from_json(GetMessageClass(field.message_type), item, path))
    else:
        setattr(message, field.name, _scalar_from_json(field, item, path))


def _scalar_from_json(field: FieldDescriptor, item: Any, path: str) -> Any:
    kind = field.type
    if kind == FieldDescriptor.TYPE_BYTES:
        if field.name.endswith("_address"):
            try:
                return decode_address(item)
            except InvalidAddress as error:
                raise MalformedTransaction(f"{path}: {error}") from None
        return _hex(item, path)
    if kind == FieldDescriptor.TYPE_BOOL:
        if not isinstance(item, bool):
            raise MalformedTransaction(f"{path} must be true or false, got {item!r}")
        return item
    if kind == FieldDescriptor.TYPE_STRING:
        if not isinstance(item, str):
            raise MalformedTransaction(f"{path} must be a string, got {type(item).__name__}")
        return item
    if kind == FieldDescriptor.TYPE_ENUM:
        enum = field.enum_type
        if isinstance(item, str) and item in enum.values_by_name:
            return enum.values_by_name[item].number
        if isinstance(item, int) and not isinstance(item, bool) and item in enum.values_by_number:
            return item
        raise MalformedTransaction(f"{path} must be one of {', '.join(enum.values_by_name)}, got {item!r}")
    if kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        if isinstance(item, bool) or not isinstance(item, int):
            raise MalformedTransaction(f"{path} must be an integer, got {item!r}")
        if not low <= item <= high:
            raise MalformedTransaction(f"{path} is out of range: {item}")
        return item
    raise MalformedTransaction(f"{path}: field type {kind} has no JSON reading here")


def _contract_from_json(view: Any, path: str) -> protocol.Transaction.Contract:
    if not isinstance(view, Mapping):
        raise MalformedTransaction(f"{path} must be a JSON object, got {type(view).__name__}")
    unknown = set(view) - {"parameter", "type", "provider", "ContractName", "Permission_id"}
    if unknown:
        raise MalformedTransaction(f"{path} has keys TRON's Contract does not: {', '.join(sorted(unknown))}")
    type_name = view.get("type")
    message_type = CONTRACT_MESSAGES.get(type_name) if isinstance(type_name, str) else None
    if message_type is None:
        raise MalformedTransaction(
            f"{path}.type {type_name!r} is not a contract type lucid-tron reads", reason="UNSUPPORTED_CONTRACT"
        )
    parameter = view.get("parameter")
    if not isinstance(parameter, Mapping) or set(parameter) - {"value", "type_url"}:
        raise MalformedTransaction(f"{path}.parameter must be an object with value and type_url")
    type_url = parameter.get("type_url", TYPE_URL_PREFIX + type_name)
    if type_url != TYPE_URL_PREFIX + type_name:
        raise MalformedTransaction(f"{path}.parameter.type_url {type_url!r} does not match type {type_name}")
    value = _message_from_json(message_type, parameter.get("value", {}), f"{path}.parameter.value")
    contract = protocol.Transaction.Contract(type=protocol.Transaction.Contract.ContractType.Value(type_name))
    contract.parameter.type_url = type_url
    contract.parameter.value = value.SerializeToString(deterministic=True)
    for key in ("provider", "ContractName"):
        if key in view:
            setattr(contract, key, _hex(view[key], f"{path}.{key}"))
    if "Permission_id" in view:
        permission_field = protocol.Transaction.Contract.DESCRIPTOR.fields_by_name["Permission_id"]
        contract.Permission_id = _scalar_from_json(permission_field, view["Permission_id"], f"{path}.Permission_id")
    return contract


def _hex(item: Any, path: str) -> bytes:
    if not isinstance(item, str):
        raise MalformedTransaction(f"{path} must be a hex string, got {type(item).__name__}")
    try:
        return bytes.fromhex(item)
    except ValueError:
        raise MalformedTransaction(f"{path} is not hex") from None

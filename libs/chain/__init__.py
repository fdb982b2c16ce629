"""TRON primitives: addresses, amounts, transaction encoding with a locally computed txid, secp256k1 keys, TRC20 ABI.

Pure functions and small value types, no I/O. Everything public is importable from here; `protocol` is the
generated module of TRON's wire messages (Transaction, TransferContract, ...; see protos/lucid/tron/chain).

Names load their module on first use: a service that only checks addresses (tron-relay) does not pay for TRON's
wire messages (~2.4 MB of descriptors) or secp256k1 (~0.8 MB), which matters against a 60 MB budget on a Pi.

- address: decode_address / to_base58 / to_hex / is_address / address_from_public_key
- amounts: SUN_PER_TRX, validate_amount, format_trx / parse_trx, format_usdt / parse_usdt
- keys: PrivateKey, recover_address, verify_signature
- contracts: transfer_contract, trigger_smart_contract, Stake 2.0 contracts, decode_contract
- transactions: build_transaction, txid, sign_transaction, decode_transaction
- trongrid_json: transaction_to_json / transaction_from_json (TronGrid's HTTP shape)
- abi: TRC20 selectors, words, transfer call and Transfer event
- exceptions: ChainError and its subclasses (all ValueError)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lucid.tron.chain import protocol_pb2 as protocol

    from .abi import (
        TRANSFER_EVENT_TOPIC,
        TRANSFER_SELECTOR,
        TRANSFER_SIGNATURE,
        decode_address_word,
        decode_transfer_call,
        decode_transfer_log,
        decode_uint256,
        encode_address,
        encode_bool,
        encode_call,
        encode_transfer,
        encode_uint256,
        selector,
    )
    from .address import (
        ADDRESS_PREFIX,
        address_from_public_key,
        decode_address,
        is_address,
        keccak256,
        to_base58,
        to_hex,
    )
    from .amounts import (
        MAX_INT64,
        SUN_PER_TRX,
        TRX_DECIMALS,
        USDT_DECIMALS,
        format_trx,
        format_units,
        format_usdt,
        parse_trx,
        parse_units,
        parse_usdt,
        validate_amount,
    )
    from .contracts import (
        CONTRACT_MESSAGES,
        RESOURCES,
        TYPE_URL_PREFIX,
        DecodedContract,
        cancel_all_unfreeze_v2,
        decode_contract,
        delegate_resource,
        freeze_balance_v2,
        make_contract,
        resource_code,
        resource_name,
        transfer_contract,
        trc20_transfer,
        trigger_smart_contract,
        undelegate_resource,
        unfreeze_balance_v2,
        withdraw_expire_unfreeze,
    )
    from .exceptions import (
        AbiError,
        ChainError,
        InvalidAddress,
        InvalidAmount,
        InvalidKey,
        InvalidSignature,
        MalformedTransaction,
        TxidMismatch,
    )
    from .keys import SECP256K1_N, PrivateKey, recover_address, recover_public_key, verify_signature
    from .transactions import (
        DecodedTransaction,
        block_number_from_id,
        build_transaction,
        decode_transaction,
        make_block_id,
        raw_data_bytes,
        sign_transaction,
        txid,
    )
    from .trongrid_json import raw_data_from_json, raw_data_to_json, transaction_from_json, transaction_to_json

_LAZY = {
    "ADDRESS_PREFIX": "address",
    "AbiError": "exceptions",
    "CONTRACT_MESSAGES": "contracts",
    "ChainError": "exceptions",
    "DecodedContract": "contracts",
    "DecodedTransaction": "transactions",
    "InvalidAddress": "exceptions",
    "InvalidAmount": "exceptions",
    "InvalidKey": "exceptions",
    "InvalidSignature": "exceptions",
    "MAX_INT64": "amounts",
    "MalformedTransaction": "exceptions",
    "PrivateKey": "keys",
    "RESOURCES": "contracts",
    "SECP256K1_N": "keys",
    "SUN_PER_TRX": "amounts",
    "TRANSFER_EVENT_TOPIC": "abi",
    "TRANSFER_SELECTOR": "abi",
    "TRANSFER_SIGNATURE": "abi",
    "TRX_DECIMALS": "amounts",
    "TYPE_URL_PREFIX": "contracts",
    "TxidMismatch": "exceptions",
    "USDT_DECIMALS": "amounts",
    "address_from_public_key": "address",
    "block_number_from_id": "transactions",
    "build_transaction": "transactions",
    "cancel_all_unfreeze_v2": "contracts",
    "decode_address": "address",
    "decode_address_word": "abi",
    "decode_contract": "contracts",
    "decode_transaction": "transactions",
    "decode_transfer_call": "abi",
    "decode_transfer_log": "abi",
    "decode_uint256": "abi",
    "delegate_resource": "contracts",
    "encode_address": "abi",
    "encode_bool": "abi",
    "encode_call": "abi",
    "encode_transfer": "abi",
    "encode_uint256": "abi",
    "format_trx": "amounts",
    "format_units": "amounts",
    "format_usdt": "amounts",
    "freeze_balance_v2": "contracts",
    "is_address": "address",
    "keccak256": "address",
    "make_block_id": "transactions",
    "make_contract": "contracts",
    "parse_trx": "amounts",
    "parse_units": "amounts",
    "parse_usdt": "amounts",
    "raw_data_bytes": "transactions",
    "raw_data_from_json": "trongrid_json",
    "raw_data_to_json": "trongrid_json",
    "recover_address": "keys",
    "recover_public_key": "keys",
    "resource_code": "contracts",
    "resource_name": "contracts",
    "selector": "abi",
    "sign_transaction": "transactions",
    "to_base58": "address",
    "to_hex": "address",
    "transaction_from_json": "trongrid_json",
    "transaction_to_json": "trongrid_json",
    "transfer_contract": "contracts",
    "trc20_transfer": "contracts",
    "trigger_smart_contract": "contracts",
    "txid": "transactions",
    "undelegate_resource": "contracts",
    "unfreeze_balance_v2": "contracts",
    "validate_amount": "amounts",
    "verify_signature": "keys",
    "withdraw_expire_unfreeze": "contracts",
}


def __getattr__(name: str) -> Any:
    if name == "protocol":
        value = import_module("lucid.tron.chain.protocol_pb2")
    elif name in _LAZY:
        value = getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "ADDRESS_PREFIX",
    "CONTRACT_MESSAGES",
    "MAX_INT64",
    "RESOURCES",
    "SECP256K1_N",
    "SUN_PER_TRX",
    "TRANSFER_EVENT_TOPIC",
    "TRANSFER_SELECTOR",
    "TRANSFER_SIGNATURE",
    "TRX_DECIMALS",
    "TYPE_URL_PREFIX",
    "USDT_DECIMALS",
    "AbiError",
    "ChainError",
    "DecodedContract",
    "DecodedTransaction",
    "InvalidAddress",
    "InvalidAmount",
    "InvalidKey",
    "InvalidSignature",
    "MalformedTransaction",
    "PrivateKey",
    "TxidMismatch",
    "address_from_public_key",
    "block_number_from_id",
    "build_transaction",
    "cancel_all_unfreeze_v2",
    "decode_address",
    "decode_address_word",
    "decode_contract",
    "decode_transaction",
    "decode_transfer_call",
    "decode_transfer_log",
    "decode_uint256",
    "delegate_resource",
    "encode_address",
    "encode_bool",
    "encode_call",
    "encode_transfer",
    "encode_uint256",
    "format_trx",
    "format_units",
    "format_usdt",
    "freeze_balance_v2",
    "is_address",
    "keccak256",
    "make_block_id",
    "make_contract",
    "parse_trx",
    "parse_units",
    "parse_usdt",
    "protocol",
    "raw_data_bytes",
    "raw_data_from_json",
    "raw_data_to_json",
    "recover_address",
    "recover_public_key",
    "resource_code",
    "resource_name",
    "selector",
    "sign_transaction",
    "to_base58",
    "to_hex",
    "transaction_from_json",
    "transaction_to_json",
    "transfer_contract",
    "trc20_transfer",
    "trigger_smart_contract",
    "txid",
    "undelegate_resource",
    "unfreeze_balance_v2",
    "validate_amount",
    "verify_signature",
    "withdraw_expire_unfreeze",
]

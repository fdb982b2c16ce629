"""Transactions: build raw_data around a contract, compute the txid locally, sign, and decode node-built raw_data.

txid = sha256(raw_data serialized); a signature is secp256k1 over the txid. A node's word for a txid is never trusted:
compute it here from the bytes that are signed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from lucid.tron.chain import protocol_pb2 as protocol

from ._amounts import validate_amount
from ._contracts import DecodedContract, decode_contract, parse_exact
from ._exceptions import ChainError, MalformedTransaction
from ._keys import PrivateKey

__all__ = [
    "DecodedTransaction",
    "block_number_from_id",
    "build_transaction",
    "decode_transaction",
    "make_block_id",
    "raw_data_bytes",
    "sign_transaction",
    "txid",
]


def make_block_id(number: int, block_hash: bytes) -> bytes:
    """TRON's 32-byte block id: the block number as 8 big-endian bytes, then bytes [8:32] of sha256(header raw_data)."""
    number = validate_amount(number, field="block number", allow_zero=True)
    if not isinstance(block_hash, (bytes, bytearray, memoryview)) or len(block_hash) != 32:
        raise ChainError("block hash must be 32 bytes", reason="INVALID_BLOCK_ID")
    return number.to_bytes(8, "big") + bytes(block_hash)[8:]


def block_number_from_id(block_id: bytes | str) -> int:
    """The block number in the first 8 bytes of a block id (bytes or 64 hex digits)."""
    return int.from_bytes(_block_id_bytes(block_id)[:8], "big")


def _block_id_bytes(block_id: bytes | str) -> bytes:
    if isinstance(block_id, str):
        try:
            block_id = bytes.fromhex(block_id)
        except ValueError:
            raise ChainError("block id is not hex", reason="INVALID_BLOCK_ID") from None
    if not isinstance(block_id, (bytes, bytearray, memoryview)) or len(block_id) != 32:
        raise ChainError("block id must be 32 bytes (64 hex digits)", reason="INVALID_BLOCK_ID")
    return bytes(block_id)


def build_transaction(
    contract: protocol.Transaction.Contract,
    *,
    ref_block_number: int,
    ref_block_id: bytes | str,
    expiration_ms: int,
    timestamp_ms: int,
    fee_limit_sun: int = 0,
    memo: bytes | str = b"",
) -> protocol.Transaction:
    """An unsigned transaction carrying `contract`.

    The reference block (TaPoS) ties the transaction to a recent block of the chain it is meant for:
    ref_block_bytes = bytes [6:8] of the block number, ref_block_hash = bytes [8:16] of the block id. The block id
    must belong to ref_block_number (its first 8 bytes are the number), which catches a number and an id taken from
    different blocks. fee_limit_sun caps the SUN a contract call may burn (0 = unset, fine for TRX transfers). A
    non-empty memo lands in raw_data.data, changes the txid and burns the chain's memo fee.
    """
    if not isinstance(contract, protocol.Transaction.Contract):
        raise ChainError(f"contract must be a Transaction.Contract, got {type(contract).__name__}")
    ref_block_number = validate_amount(ref_block_number, field="ref_block_number", allow_zero=True)
    block_id = _block_id_bytes(ref_block_id)
    if block_id[:8] != ref_block_number.to_bytes(8, "big"):
        raise ChainError(
            f"ref_block_id {block_id.hex()} is the id of block {block_number_from_id(block_id)}, "
            f"not of ref_block_number {ref_block_number}",
            reason="INVALID_BLOCK_ID",
        )
    timestamp_ms = validate_amount(timestamp_ms, field="timestamp_ms")
    expiration_ms = validate_amount(expiration_ms, field="expiration_ms")
    if expiration_ms <= timestamp_ms:
        raise ChainError(
            f"expiration_ms {expiration_ms} must be after timestamp_ms {timestamp_ms}", reason="INVALID_EXPIRATION"
        )
    fee_limit_sun = validate_amount(fee_limit_sun, field="fee_limit_sun", allow_zero=True)
    if isinstance(memo, str):
        memo = memo.encode("utf-8")
    if not isinstance(memo, (bytes, bytearray, memoryview)):
        raise ChainError(f"memo must be bytes or str, got {type(memo).__name__}", reason="INVALID_MEMO")
    raw = protocol.Transaction.raw(
        ref_block_bytes=ref_block_number.to_bytes(8, "big")[6:8],
        ref_block_hash=block_id[8:16],
        expiration=expiration_ms,
        timestamp=timestamp_ms,
        fee_limit=fee_limit_sun,
        data=bytes(memo),
    )
    raw.contract.append(contract)
    return protocol.Transaction(raw_data=raw)


def raw_data_bytes(raw_data: bytes | protocol.Transaction.raw | protocol.Transaction) -> bytes:
    """The serialized raw_data: bytes as given, or a raw / transaction message serialized."""
    if isinstance(raw_data, (bytes, bytearray, memoryview)):
        return bytes(raw_data)
    if isinstance(raw_data, protocol.Transaction):
        raw_data = raw_data.raw_data
    if isinstance(raw_data, protocol.Transaction.raw):
        return raw_data.SerializeToString(deterministic=True)
    raise ChainError(f"expected raw_data bytes, Transaction.raw or Transaction, got {type(raw_data).__name__}")


def txid(raw_data: bytes | protocol.Transaction.raw | protocol.Transaction) -> bytes:
    """The 32-byte transaction id: sha256 of the serialized raw_data (signatures are not part of it)."""
    return hashlib.sha256(raw_data_bytes(raw_data)).digest()


def sign_transaction(tx: protocol.Transaction, key: PrivateKey) -> protocol.Transaction:
    """A copy of `tx` with `key`'s signature over its txid appended (the input is left untouched)."""
    if not isinstance(tx, protocol.Transaction):
        raise ChainError(f"expected a Transaction, got {type(tx).__name__}")
    if not isinstance(key, PrivateKey):
        raise ChainError(f"expected a PrivateKey, got {type(key).__name__}")
    signed = protocol.Transaction()
    signed.CopyFrom(tx)
    signed.signature.append(key.sign_digest(txid(tx)))
    return signed


@dataclass(frozen=True)
class DecodedTransaction:
    """Everything a raw_data says, for comparing a node-built transaction with the intent before signing it.

    - txid: sha256 of exactly the decoded bytes.
    - contract: the one contract, decoded.
    - ref_block_bytes / ref_block_hash / ref_block_num: the reference block fields (TaPoS).
    - expiration_ms / timestamp_ms: Unix milliseconds.
    - fee_limit_sun: most SUN a contract call may burn (0 = unset).
    - memo: raw_data.data (empty if none).
    """

    txid: bytes
    contract: DecodedContract
    ref_block_bytes: bytes
    ref_block_hash: bytes
    ref_block_num: int
    expiration_ms: int
    timestamp_ms: int
    fee_limit_sun: int
    memo: bytes

    @property
    def txid_hex(self) -> str:
        return self.txid.hex()

    @property
    def contract_type(self) -> str:
        return self.contract.contract_type

    @property
    def owner_address(self) -> str:
        return self.contract.owner_address

    @property
    def to_address(self) -> str | None:
        return self.contract.to_address

    @property
    def contract_address(self) -> str | None:
        return self.contract.contract_address

    @property
    def amount_sun(self) -> int | None:
        return self.contract.amount_sun

    @property
    def resource(self) -> str | None:
        return self.contract.resource

    @property
    def call_data(self) -> bytes | None:
        return self.contract.call_data


def decode_transaction(raw_data: bytes | protocol.Transaction.raw | protocol.Transaction) -> DecodedTransaction:
    """Decode raw_data strictly: exactly one contract of a supported type, no field lucid-tron does not know
    (auths, scripts, unknown field numbers), canonical encoding. MalformedTransaction otherwise.
    """
    data = raw_data_bytes(raw_data)
    raw = parse_exact(protocol.Transaction.raw, data, "raw_data")
    if len(raw.contract) != 1:
        raise MalformedTransaction(f"raw_data carries {len(raw.contract)} contracts; TRON executes exactly one")
    if len(raw.auths) or raw.scripts:
        raise MalformedTransaction("raw_data sets auths or scripts, which TRON does not use")
    if len(raw.ref_block_bytes) != 2 or len(raw.ref_block_hash) != 8:
        raise MalformedTransaction(
            f"ref_block_bytes must be 2 bytes and ref_block_hash 8, got {len(raw.ref_block_bytes)} and "
            f"{len(raw.ref_block_hash)}"
        )
    for field in ("expiration", "timestamp", "fee_limit"):
        if getattr(raw, field) < 0:
            raise MalformedTransaction(f"raw_data.{field} is negative: {getattr(raw, field)}")
    return DecodedTransaction(
        txid=hashlib.sha256(data).digest(),
        contract=decode_contract(raw.contract[0]),
        ref_block_bytes=raw.ref_block_bytes,
        ref_block_hash=raw.ref_block_hash,
        ref_block_num=raw.ref_block_num,
        expiration_ms=raw.expiration,
        timestamp_ms=raw.timestamp,
        fee_limit_sun=raw.fee_limit,
        memo=raw.data,
    )

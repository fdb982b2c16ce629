"""Blocks as TRON builds them: header bytes, block id (8-byte number + header hash), transaction merkle root.

TRON's BlockHeader is not among the generated wire messages of `lucid_tron.chain`, so its raw part is
encoded here with the few protobuf rules it needs (varints and length-delimited bytes, fields in number
order, zero values left out, exactly as protobuf serialises proto3).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lucid_tron.chain import make_block_id

if TYPE_CHECKING:
    from ._executor import Receipt

__all__ = ["Block", "BlockHeader", "block_id", "merkle_root"]

BLOCK_VERSION = 30


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 negatives are ten-byte varints in protobuf
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field_varint(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value) if value else b""


def _field_bytes(number: int, value: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(value)) + value if value else b""


@dataclass(frozen=True)
class BlockHeader:
    """protocol.BlockHeader.raw: the part of a block that its id hashes."""

    number: int
    timestamp: int
    parent_hash: bytes
    tx_trie_root: bytes
    witness_address: bytes
    version: int = BLOCK_VERSION
    account_state_root: bytes = b""

    def raw_bytes(self) -> bytes:
        return b"".join(
            (
                _field_varint(1, self.timestamp),
                _field_bytes(2, self.tx_trie_root),
                _field_bytes(3, self.parent_hash),
                _field_varint(7, self.number),
                _field_bytes(9, self.witness_address),
                _field_varint(10, self.version),
                _field_bytes(11, self.account_state_root),
            )
        )


def block_id(header: BlockHeader) -> bytes:
    """TRON's block id: the block number as 8 big-endian bytes, then bytes 8..32 of sha256(header raw)."""
    return make_block_id(header.number, hashlib.sha256(header.raw_bytes()).digest())


def merkle_root(leaves: list[bytes]) -> bytes:
    """java-tron's MerkleTree root of sha256(transaction bytes): pairs hashed, an odd leaf carried up as is."""
    if not leaves:
        return bytes(32)
    level = [hashlib.sha256(leaf).digest() for leaf in leaves]
    while len(level) > 1:
        level = [
            hashlib.sha256(level[i] + level[i + 1]).digest() if i + 1 < len(level) else level[i]
            for i in range(0, len(level), 2)
        ]
    return level[0]


@dataclass
class Block:
    """A produced block: its header, id, signature and the transactions with their receipts, in order."""

    header: BlockHeader
    id: bytes
    witness_signature: bytes
    transactions: list[bytes] = field(default_factory=list)  # serialized protocol.Transaction, with ret
    receipts: list[Receipt] = field(default_factory=list)

    @property
    def number(self) -> int:
        return self.header.number

    @property
    def timestamp(self) -> int:
        return self.header.timestamp

"""Broadcasting a signed transaction: check everything locally first, then hand the exact bytes to TronGrid.

The checks are the ones a node would make without the chain's state, made here so that a transaction that cannot
be right never leaves this machine (through Tor, spending quota, telling the network we exist):

1. raw_data decodes strictly (`lucid_tron.chain.decode_transaction`): one contract of a type lucid-tron builds,
   no unknown fields, canonical encoding, so sha256(raw_data) is the txid the network will compute;
2. the caller's txid, when given, is that sha256;
3. every signature is 65 bytes and recovers to raw_data's owner address (owner permission only: multi-signature
   permissions are refused, they would need the account's permission set);
4. nothing java-tron would refuse from the transaction alone: expired or too-far expiration, one signer twice,
   non-positive amounts, transfers to self (`admission`, FAILED_PRECONDITION with a reason each).

1-3 fail with INVALID_ARGUMENT naming the field. The transaction goes to `/wallet/broadcasthex` as the signed
protobuf bytes (raw_data exactly as the caller sent it), not as JSON that the node would re-encode. A node's refusal
is FAILED_PRECONDITION with TRON's code as the reason; DUP_TRANSACTION_ERROR is success with duplicate=True (the
bytes are already in the node's pool or chain).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from lucid_tron.chain import (
    DecodedTransaction,
    InvalidSignature,
    MalformedTransaction,
    decode_transaction,
    protocol,
    recover_address,
)
from lucid_tron.validation import FieldChecks
from lucid_tron.errors import FailedPrecondition, InvalidArgument
from lucid_tron.trongrid import TronGridClient, TronGridNodeError, broadcast

from .admission import refuse_what_tron_refuses

__all__ = ["MAX_RAW_DATA_BYTES", "MAX_SIGNATURES", "Broadcast", "CheckedTransaction", "check_signed", "send"]

#: TRON refuses transactions over 500 KiB (TOO_BIG_TRANSACTION_ERROR); raw_data alone cannot be larger.
MAX_RAW_DATA_BYTES = 500 * 1024
#: The owner permission has one key; a few copies are tolerated only to say precisely what is wrong with them.
MAX_SIGNATURES = 5
SIGNATURE_BYTES = 65


@dataclass(frozen=True)
class CheckedTransaction:
    """A signed transaction that passed every local check; `signed_bytes` is the serialized protocol.Transaction
    whose raw_data is, byte for byte, the raw_data that was checked and whose sha256 is the txid."""

    signed_bytes: bytes
    decoded: DecodedTransaction

    @property
    def txid(self) -> str:
        return self.decoded.txid_hex


@dataclass(frozen=True)
class Broadcast:
    txid: str
    duplicate: bool
    expiration_ms: int


def check_signed(raw_data: bytes, signatures: Sequence[bytes], claimed_txid: str) -> CheckedTransaction:
    """The transaction if every local check passes now; InvalidArgument naming the failing field, or
    FailedPrecondition with the reason java-tron would refuse it for, otherwise."""
    check = FieldChecks()
    raw = check.data("raw_data", raw_data, max_length=MAX_RAW_DATA_BYTES)
    claimed = check.txid("txid", claimed_txid, required=False)
    if not signatures:
        check.fail("signatures", "required: at least one 65-byte signature over sha256(raw_data)")
    elif len(signatures) > MAX_SIGNATURES:
        check.fail("signatures", f"at most {MAX_SIGNATURES} signatures, got {len(signatures)}")
    else:
        for index, signature in enumerate(signatures):
            if len(signature) != SIGNATURE_BYTES:
                check.fail(
                    f"signatures[{index}]", f"a signature is {SIGNATURE_BYTES} bytes (r|s|v), got {len(signature)}"
                )
    check.done()
    assert raw is not None  # done() raised otherwise
    try:
        decoded = decode_transaction(raw)
    except MalformedTransaction as error:
        raise InvalidArgument.field(
            "raw_data", f"not a transaction lucid-tron accepts ({error.reason}): {error.message}"
        ) from None
    if decoded.contract.permission_id != 0:
        raise InvalidArgument.field(
            "raw_data", f"uses permission {decoded.contract.permission_id}; only the owner permission (0) is supported"
        )
    if claimed is not None and claimed != decoded.txid_hex:
        raise InvalidArgument.field("txid", f"is not sha256(raw_data), which is {decoded.txid_hex}")
    signers: list[str] = []
    for index, signature in enumerate(signatures):
        field = f"signatures[{index}]"
        try:
            signer = recover_address(decoded.txid, signature)
        except InvalidSignature as error:
            check.fail(field, f"not a valid signature over the txid: {error.message}")
            continue
        if signer != decoded.owner_address:
            check.fail(field, f"signed by {signer}, not by the owner {decoded.owner_address}")
        signers.append(signer)
    check.done()
    refuse_what_tron_refuses(decoded, signers, now_ms=int(time.time() * 1000))
    # decode_transaction accepts only canonical raw_data, so serializing it again gives back the caller's bytes.
    transaction = protocol.Transaction(raw_data=protocol.Transaction.raw.FromString(raw), signature=list(signatures))
    return CheckedTransaction(signed_bytes=transaction.SerializeToString(deterministic=True), decoded=decoded)


async def send(trongrid: TronGridClient, checked: CheckedTransaction) -> Broadcast:
    """Broadcast the checked bytes (`/wallet/broadcasthex`); FailedPrecondition (reason = TRON's code) when the
    node refuses them.

    Retried on transport failures: the bytes are identical, so a broadcast that reached the node before its answer
    was lost comes back as DUP_TRANSACTION_ERROR, which is success.
    """
    try:
        result = await broadcast(trongrid, checked.signed_bytes)
    except TronGridNodeError as refusal:
        code = refusal.code or "NODE_REFUSED"
        raise FailedPrecondition(
            f"the TRON node refused transaction {checked.txid}: {code}: {refusal.node_message}",
            reason=code,
            subject=checked.txid,
        ) from refusal
    return Broadcast(txid=checked.txid, duplicate=result.duplicate, expiration_ms=checked.decoded.expiration_ms)

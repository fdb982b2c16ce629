"""tron-client's local checks before a broadcast: what a node would refuse about the signer never leaves the host."""

from __future__ import annotations

import hashlib
import time

import pytest

from lucid_tron.chain import (
    PrivateKey,
    build_transaction,
    make_contract,
    protocol,
    raw_data_bytes,
    sign_transaction,
    transfer_contract,
)
from lucid_tron.errors import FailedPrecondition, InvalidArgument
from lucid_tron.services.tron_client.broadcast import MAX_SIGNATURES, check_signed

OWNER = PrivateKey(hashlib.sha256(b"owner").digest())
OTHER = PrivateKey(hashlib.sha256(b"other").digest())
BLOCK_ID = (7).to_bytes(8, "big") + bytes(range(24))


def transaction(contract: protocol.Transaction.Contract | None = None) -> protocol.Transaction:
    contract = contract or transfer_contract(OWNER.address, OTHER.address, 1_000_000)
    now = int(time.time() * 1000)
    return build_transaction(
        contract, ref_block_number=7, ref_block_id=BLOCK_ID, expiration_ms=now + 60_000, timestamp_ms=now
    )


def signed_by(key: PrivateKey, tx: protocol.Transaction | None = None) -> tuple[bytes, list[bytes]]:
    done = sign_transaction(tx or transaction(), key)
    return raw_data_bytes(done), list(done.signature)


def refusal(raw: bytes, signatures: list[bytes], txid: str = "") -> dict[str, str]:
    with pytest.raises(InvalidArgument) as raised:
        check_signed(raw, signatures, txid)
    return {v.field: v.description for v in raised.value.violations}


def test_a_transaction_signed_by_its_owner_passes_with_the_txid_computed_locally():
    raw, signatures = signed_by(OWNER)

    checked = check_signed(raw, signatures, "")

    sent = protocol.Transaction.FromString(checked.signed_bytes)
    assert checked.txid == hashlib.sha256(raw).hexdigest()
    assert sent.raw_data.SerializeToString() == raw
    assert list(sent.signature) == signatures


def test_the_callers_txid_may_be_uppercase():
    raw, signatures = signed_by(OWNER)
    check_signed(raw, signatures, hashlib.sha256(raw).hexdigest().upper())


def test_a_signature_by_another_key_is_refused_naming_the_signer():
    raw, signatures = signed_by(OTHER)
    assert refusal(raw, signatures)["signatures[0]"] == f"signed by {OTHER.address}, not by the owner {OWNER.address}"


def test_a_tampered_signature_is_refused():
    raw, (signature,) = signed_by(OWNER)
    tampered = signature[:10] + bytes([signature[10] ^ 1]) + signature[11:]
    assert "signatures[0]" in refusal(raw, [tampered])


def test_a_signature_over_other_bytes_is_refused():
    raw, signatures = signed_by(OWNER)
    other_raw, _ = signed_by(OWNER, transaction(transfer_contract(OWNER.address, OTHER.address, 2_000_000)))
    assert "signatures[0]" in refusal(other_raw, signatures)


def test_a_txid_that_is_not_sha256_of_raw_data_is_refused():
    raw, signatures = signed_by(OWNER)
    assert "is not sha256(raw_data)" in refusal(raw, signatures, "00" * 32)["txid"]


@pytest.mark.parametrize("length", [0, 64, 66])
def test_a_signature_must_be_65_bytes(length):
    raw, _ = signed_by(OWNER)
    assert "65 bytes" in refusal(raw, [b"\x01" * length])["signatures[0]"]


def test_at_least_one_signature_is_required():
    raw, _ = signed_by(OWNER)
    assert refusal(raw, [])["signatures"].startswith("required")


def test_more_signatures_than_the_owner_permission_can_have_are_refused():
    raw, signatures = signed_by(OWNER)
    assert "at most" in refusal(raw, signatures * (MAX_SIGNATURES + 1))["signatures"]


def test_a_repeated_signature_is_refused_as_a_duplicate_signer():
    raw, signatures = signed_by(OWNER)
    with pytest.raises(FailedPrecondition) as raised:
        check_signed(raw, signatures * 2, "")
    assert raised.value.reason == "DUPLICATE_SIGNER" and "signatures[1]" in raised.value.message


def test_raw_data_that_is_not_a_transaction_is_refused():
    assert "raw_data" in refusal(b"\xff\xff\xff", [b"\x01" * 65])


def test_raw_data_with_fields_lucid_tron_does_not_know_is_refused():
    raw, signatures = signed_by(OWNER)
    # Field 999 (varint): unknown to TRON's Transaction.raw schema as compiled here.
    assert "UNKNOWN_FIELDS" in refusal(raw + b"\xb8\x3e\x01", signatures)["raw_data"]


def test_a_multi_signature_permission_is_refused():
    contract = make_contract(
        protocol.TransferContract(
            owner_address=bytes.fromhex("41" + "11" * 20), to_address=bytes.fromhex("41" + "22" * 20), amount=1
        ),
        permission_id=2,
    )
    raw, signatures = signed_by(OWNER, transaction(contract))
    assert "permission 2" in refusal(raw, signatures)["raw_data"]


def test_empty_raw_data_is_required():
    assert refusal(b"", [b"\x01" * 65])["raw_data"].startswith("required")


def test_oversized_raw_data_is_refused_before_decoding():
    assert "at most" in refusal(b"\x00" * (500 * 1024 + 1), [b"\x01" * 65])["raw_data"]

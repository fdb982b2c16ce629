"""The limits of what tron-client refuses before a broadcast, at the exact boundaries java-tron draws."""

from __future__ import annotations

import hashlib

import pytest

from lucid_tron.chain import PrivateKey, build_transaction, decode_transaction, raw_data_bytes, transfer_contract
from lucid_tron.errors import FailedPrecondition
from lucid_tron.services.tron_client.admission import MAX_EXPIRATION_AHEAD_MS, refuse_what_tron_refuses

OWNER = PrivateKey(hashlib.sha256(b"owner").digest())
OTHER = PrivateKey(hashlib.sha256(b"other").digest())
BLOCK_ID = (7).to_bytes(8, "big") + bytes(range(24))
NOW_MS = 1_800_000_000_000


def decoded(expiration_ms: int, timestamp_ms: int = NOW_MS - 1_000):
    tx = build_transaction(
        transfer_contract(OWNER.address, OTHER.address, 1),
        ref_block_number=7,
        ref_block_id=BLOCK_ID,
        expiration_ms=expiration_ms,
        timestamp_ms=timestamp_ms,
    )
    return decode_transaction(raw_data_bytes(tx))


def reason(expiration_ms: int, signers: tuple[str, ...] = (OWNER.address,)) -> str | None:
    try:
        refuse_what_tron_refuses(decoded(expiration_ms), signers, NOW_MS)
    except FailedPrecondition as refused:
        return refused.reason
    return None


@pytest.mark.parametrize(
    ("expiration_ms", "expected"),
    [
        (NOW_MS, "TRANSACTION_EXPIRED"),
        (NOW_MS + 1, None),
        (NOW_MS + MAX_EXPIRATION_AHEAD_MS, None),
        (NOW_MS + MAX_EXPIRATION_AHEAD_MS + 1, "EXPIRATION_TOO_FAR"),
    ],
)
def test_an_expiration_is_accepted_only_after_now_and_at_most_24_hours_ahead(expiration_ms, expected):
    assert reason(expiration_ms) == expected


def test_two_signers_that_differ_are_left_to_the_node():
    assert reason(NOW_MS + 60_000, (OWNER.address, OTHER.address)) is None


def test_the_refusal_names_the_transaction_it_is_about():
    refused = decoded(NOW_MS)
    with pytest.raises(FailedPrecondition) as raised:
        refuse_what_tron_refuses(refused, (OWNER.address,), NOW_MS)
    assert raised.value.subject == refused.txid_hex

"""tronpy as an independent implementation: the same inputs must give the same raw_data bytes, txID, addresses
and signatures. tronpy is used offline only: its client points at an unused loopback port and is never asked
anything (offline builds compute the txID locally)."""

import pytest
from chain_strategies import addresses
from hypothesis import given, settings
from hypothesis import strategies as st
from tronpy import Tron
from tronpy.contract import Contract
from tronpy.keys import PrivateKey as TronpyKey
from tronpy.keys import Signature
from tronpy.proto import calculate_txid_from_raw_data
from tronpy.proto.transaction import _raw_data_to_protobuf
from tronpy.providers import HTTPProvider

from lucid_tron.chain import (
    SECP256K1_N,
    PrivateKey,
    TxidMismatch,
    build_transaction,
    encode_transfer,
    make_block_id,
    raw_data_from_json,
    recover_address,
    transaction_from_json,
    transaction_to_json,
    transfer_contract,
    trc20_transfer,
    txid,
    verify_signature,
)

USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
TRANSFER_ABI = [
    {
        "type": "function",
        "name": "transfer",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "_to", "type": "address"}, {"name": "_value", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
    }
]
secrets_ = st.integers(min_value=1, max_value=SECP256K1_N - 1).map(lambda k: k.to_bytes(32, "big"))
block_numbers = st.integers(min_value=0, max_value=2**40)
block_hashes = st.binary(min_size=32, max_size=32)
int64_amounts = st.integers(min_value=1, max_value=2**63 - 1)
digests = st.binary(min_size=32, max_size=32)


@pytest.fixture(scope="module")
def tron():
    return Tron(HTTPProvider("http://127.0.0.1:9", api_key="offline"))


def ours_like(tronpy_tx, contract, block_number, block_id):
    raw = tronpy_tx._raw_data
    return build_transaction(
        contract,
        ref_block_number=block_number,
        ref_block_id=block_id,
        expiration_ms=raw["expiration"],
        timestamp_ms=raw["timestamp"],
        fee_limit_sun=raw.get("fee_limit", 0),
    )


def tronpy_raw_data_hex(tronpy_tx) -> str:
    return _raw_data_to_protobuf(tronpy_tx._raw_data).SerializeToString().hex()


@settings(max_examples=25, deadline=None)
@given(addresses, addresses, int64_amounts, block_numbers, block_hashes)
def test_trx_transfer_has_tronpys_raw_data_hex_and_txid(tron, owner, to, amount, number, block_hash):
    block_id = make_block_id(number, block_hash)
    theirs = tron.trx.transfer(owner, to, amount).build(offline=True, ref_block_id=block_id.hex())
    ours = ours_like(theirs, transfer_contract(owner, to, amount), number, block_id)
    assert ours.raw_data.SerializeToString().hex() == tronpy_raw_data_hex(theirs)
    assert txid(ours).hex() == theirs.txid


@settings(max_examples=25, deadline=None)
@given(addresses, addresses, int64_amounts, block_numbers, block_hashes)
def test_trc20_transfer_has_tronpys_raw_data_hex_and_txid(tron, owner, to, amount, number, block_hash):
    block_id = make_block_id(number, block_hash)
    usdt = Contract(addr=USDT, abi=TRANSFER_ABI, client=tron)
    builder = usdt.functions.transfer(to, amount).with_owner(owner).fee_limit(30_000_000)
    theirs = builder.build(offline=True, ref_block_id=block_id.hex())
    ours = ours_like(theirs, trc20_transfer(owner, USDT, to, amount), number, block_id)
    assert ours.raw_data.SerializeToString().hex() == tronpy_raw_data_hex(theirs)
    assert txid(ours).hex() == theirs.txid


@settings(max_examples=50, deadline=None)
@given(addresses, st.integers(min_value=0, max_value=2**256 - 1))
def test_transfer_call_data_is_tronpys_over_the_whole_uint256_range(tron, to, amount):
    usdt = Contract(addr=USDT, abi=TRANSFER_ABI, client=tron)
    builder = usdt.functions.transfer(to, amount).with_owner(to)
    assert bytes.fromhex(builder._raw_data["contract"][0]["parameter"]["value"]["data"]) == encode_transfer(to, amount)


def test_tronpys_json_view_reads_as_our_transaction(tron):
    block_id = make_block_id(77, bytes(32))
    theirs = tron.trx.transfer("TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC", USDT, 5).build(
        offline=True, ref_block_id=block_id.hex()
    )
    ours = ours_like(theirs, transfer_contract("TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC", USDT, 5), 77, block_id)
    assert transaction_from_json(theirs.to_json()) == ours
    assert raw_data_from_json(theirs._raw_data) == ours.raw_data


def test_our_json_view_gives_tronpy_the_same_txid():
    block_id = make_block_id(77, bytes(32))
    ours = build_transaction(
        trc20_transfer("TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC", USDT, USDT, 1),
        ref_block_number=77, ref_block_id=block_id, timestamp_ms=1, expiration_ms=60_001, fee_limit_sun=10,
    )
    assert calculate_txid_from_raw_data(transaction_to_json(ours)["raw_data"]) == txid(ours).hex()


def test_tronpys_offline_txid_of_a_memo_transaction_is_caught_as_a_mismatch(tron):
    # tronpy 0.6 leaves raw_data.data (the memo) out of its offline txID: the transaction it would sign is not the
    # one it broadcasts. Reading its JSON here computes the txID from what is actually there.
    block_id = make_block_id(77, bytes(32))
    theirs = tron.trx.transfer("TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC", USDT, 5).memo("hello").build(
        offline=True, ref_block_id=block_id.hex()
    )
    with pytest.raises(TxidMismatch):
        transaction_from_json(theirs.to_json())


@settings(max_examples=50, deadline=None)
@given(secrets_)
def test_keys_have_tronpys_addresses(secret):
    assert PrivateKey(secret).address == TronpyKey(secret).public_key.to_base58check_address()


@settings(max_examples=50, deadline=None)
@given(secrets_, digests)
def test_our_signatures_are_tronpys_byte_for_byte(secret, digest):
    assert PrivateKey(secret).sign_digest(digest) == TronpyKey(secret).sign_msg_hash(digest).to_bytes()


@settings(max_examples=50, deadline=None)
@given(secrets_, digests)
def test_our_signatures_verify_under_tronpy(secret, digest):
    tronpy_key = TronpyKey(secret)
    signature = Signature(PrivateKey(secret).sign_digest(digest))
    assert signature.verify_msg_hash(digest, tronpy_key.public_key)
    assert signature.recover_public_key_from_msg_hash(digest) == tronpy_key.public_key


@settings(max_examples=50, deadline=None)
@given(secrets_, digests)
def test_tronpys_signatures_verify_under_ours(secret, digest):
    tronpy_key = TronpyKey(secret)
    signature = tronpy_key.sign_msg_hash(digest).to_bytes()
    address = tronpy_key.public_key.to_base58check_address()
    assert recover_address(digest, signature) == address
    assert verify_signature(digest, signature, address)

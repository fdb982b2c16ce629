"""Transactions: raw_data around one contract, a txid computed locally, signatures, and strict decoding of
node-built raw_data before anything is signed."""

import hashlib

import pytest
from chain_strategies import addresses, contracts_with_intent, transaction_fields
from hypothesis import given
from hypothesis import strategies as st

from lucid_tron.chain import (
    ChainError,
    DecodedContract,
    InvalidAddress,
    InvalidAmount,
    MalformedTransaction,
    PrivateKey,
    build_transaction,
    decode_transaction,
    delegate_resource,
    encode_transfer,
    freeze_balance_v2,
    make_block_id,
    make_contract,
    protocol,
    recover_address,
    sign_transaction,
    transfer_contract,
    trc20_transfer,
    trigger_smart_contract,
    txid,
)

OWNER = "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC"
USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
BLOCK_NUMBER = 0x0123_4567
BLOCK_ID = make_block_id(BLOCK_NUMBER, bytes(range(32)))
TIMES = {"timestamp_ms": 1_700_000_000_000, "expiration_ms": 1_700_000_060_000}
KEY = PrivateKey((1).to_bytes(32, "big"))


def transfer_tx(**overrides):
    fields = {"ref_block_number": BLOCK_NUMBER, "ref_block_id": BLOCK_ID, **TIMES, **overrides}
    return build_transaction(transfer_contract(OWNER, USDT, 1_000_000), **fields)


def raw_bytes(tx):
    return tx.raw_data.SerializeToString()


def test_ref_block_bytes_are_bytes_6_to_8_of_the_block_number():
    assert transfer_tx().raw_data.ref_block_bytes == BLOCK_NUMBER.to_bytes(8, "big")[6:8]


def test_ref_block_hash_is_bytes_8_to_16_of_the_block_id():
    assert transfer_tx().raw_data.ref_block_hash == BLOCK_ID[8:16]


def test_block_id_may_be_given_as_hex():
    assert transfer_tx(ref_block_id=BLOCK_ID.hex()) == transfer_tx()


def test_block_id_of_another_block_is_refused():
    with pytest.raises(ChainError, match="not of ref_block_number"):
        transfer_tx(ref_block_number=BLOCK_NUMBER + 1)


def test_expiration_before_timestamp_is_refused():
    with pytest.raises(ChainError):
        transfer_tx(timestamp_ms=2_000, expiration_ms=1_000)


def test_negative_fee_limit_is_refused():
    with pytest.raises(InvalidAmount):
        transfer_tx(fee_limit_sun=-1)


def test_contract_parameter_carries_trons_type_url():
    assert transfer_tx().raw_data.contract[0].parameter.type_url == "type.googleapis.com/protocol.TransferContract"


def test_txid_is_sha256_of_the_serialized_raw_data():
    tx = transfer_tx()
    assert txid(tx) == hashlib.sha256(raw_bytes(tx)).digest()


def test_txid_is_the_same_from_bytes_raw_or_transaction():
    tx = transfer_tx()
    assert txid(tx) == txid(tx.raw_data) == txid(raw_bytes(tx))


def test_txid_does_not_cover_signatures():
    tx = transfer_tx()
    assert txid(sign_transaction(tx, KEY)) == txid(tx)


def test_memo_lands_in_raw_data_and_changes_the_txid():
    with_memo = transfer_tx(memo="invoice 42")
    assert with_memo.raw_data.data == b"invoice 42"
    assert txid(with_memo) != txid(transfer_tx())


def test_signature_over_the_txid_recovers_to_the_signer():
    signed = sign_transaction(transfer_tx(), KEY)
    assert recover_address(txid(signed), signed.signature[0]) == OWNER


def test_signing_leaves_the_unsigned_transaction_untouched():
    tx = transfer_tx()
    sign_transaction(tx, KEY)
    assert list(tx.signature) == []


def test_transfer_of_zero_sun_is_refused():
    with pytest.raises(InvalidAmount):
        transfer_contract(OWNER, USDT, 0)


def test_transfer_to_an_ethereum_address_is_refused():
    with pytest.raises(InvalidAddress):
        transfer_contract(OWNER, "0x" + "ab" * 20, 1)


def test_unknown_resource_is_refused():
    with pytest.raises(ChainError, match="resource"):
        freeze_balance_v2(OWNER, 1_000_000, "STORAGE")


def test_resource_may_be_given_as_trons_number():
    assert freeze_balance_v2(OWNER, 1_000_000, 1) == freeze_balance_v2(OWNER, 1_000_000, "ENERGY")


def test_lock_period_without_lock_is_refused():
    with pytest.raises(ChainError, match="lock"):
        delegate_resource(OWNER, USDT, 1_000_000, "ENERGY", lock=False, lock_period=100)


def test_trc20_transfer_is_a_trigger_of_the_token_with_transfer_call_data():
    assert trc20_transfer(OWNER, USDT, OWNER, 5) == trigger_smart_contract(OWNER, USDT, encode_transfer(OWNER, 5))


def test_decoded_trc20_transfer_names_token_and_call_data():
    decoded = decode_transaction(
        build_transaction(
            trc20_transfer(OWNER, USDT, OWNER, 5),
            ref_block_number=BLOCK_NUMBER,
            ref_block_id=BLOCK_ID,
            fee_limit_sun=30_000_000,
            **TIMES,
        )
    )
    assert (decoded.contract_type, decoded.contract_address, decoded.call_data, decoded.fee_limit_sun) == (
        "TriggerSmartContract",
        USDT,
        encode_transfer(OWNER, 5),
        30_000_000,
    )


def test_decoded_transaction_has_the_txid_of_its_bytes():
    tx = transfer_tx()
    assert decode_transaction(raw_bytes(tx)).txid == txid(tx)


@given(contracts_with_intent, transaction_fields())
def test_every_contract_type_round_trips_through_decode_transaction(contract_and_intent, fields):
    contract, intent = contract_and_intent
    tx = build_transaction(contract, **fields)
    decoded = decode_transaction(raw_bytes(tx))
    assert decoded.contract == intent
    assert (decoded.expiration_ms, decoded.timestamp_ms, decoded.fee_limit_sun, decoded.memo) == (
        fields["expiration_ms"],
        fields["timestamp_ms"],
        fields["fee_limit_sun"],
        fields["memo"],
    )
    assert decoded.ref_block_bytes == fields["ref_block_number"].to_bytes(8, "big")[6:8]
    assert decoded.ref_block_hash == fields["ref_block_id"][8:16]


@given(addresses, addresses)
def test_decoded_addresses_are_base58(owner, to):
    decoded = decode_transaction(build_transaction(transfer_contract(owner, to, 1), **TIMES,
                                                   ref_block_number=BLOCK_NUMBER, ref_block_id=BLOCK_ID))
    assert (decoded.owner_address, decoded.to_address) == (owner, to)


def test_decode_refuses_raw_data_with_an_unknown_field():
    # 98 06 = tag of field 99 (varint), then 01: something the network might read that the check would not see.
    with pytest.raises(MalformedTransaction) as caught:
        decode_transaction(raw_bytes(transfer_tx()) + bytes.fromhex("980601"))
    assert caught.value.reason == "UNKNOWN_FIELDS"


def test_decode_refuses_a_contract_value_with_an_unknown_field():
    value = protocol.TransferContract(owner_address=b"\x41" + bytes(20), to_address=b"\x41" + bytes(19) + b"\x01",
                                      amount=1).SerializeToString() + b"\x20\x05"  # field 4, varint 5
    contract = protocol.Transaction.Contract(type=protocol.Transaction.Contract.TransferContract)
    contract.parameter.type_url = "type.googleapis.com/protocol.TransferContract"
    contract.parameter.value = value
    tx = transfer_tx()
    tx.raw_data.contract[0].CopyFrom(contract)
    with pytest.raises(MalformedTransaction, match="unknown"):
        decode_transaction(raw_bytes(tx))


def test_decode_refuses_a_non_canonical_encoding():
    # expiration (field 8, tag 40) repeated as the overlong varint 81 00 (= 1): a protobuf parser reads it, but the
    # bytes are not what re-serialization gives, so the network's txid would not be sha256 of these bytes.
    with pytest.raises(MalformedTransaction) as caught:
        decode_transaction(raw_bytes(transfer_tx()) + bytes.fromhex("408100"))
    assert caught.value.reason == "UNKNOWN_FIELDS"


def test_decode_refuses_two_contracts():
    tx = transfer_tx()
    tx.raw_data.contract.append(tx.raw_data.contract[0])
    with pytest.raises(MalformedTransaction, match="2 contracts"):
        decode_transaction(raw_bytes(tx))


def test_decode_refuses_a_type_url_that_disagrees_with_the_type():
    tx = transfer_tx()
    tx.raw_data.contract[0].parameter.type_url = "type.googleapis.com/protocol.TriggerSmartContract"
    with pytest.raises(MalformedTransaction, match="type_url"):
        decode_transaction(raw_bytes(tx))


def test_decode_refuses_a_contract_type_it_does_not_check():
    tx = transfer_tx()
    tx.raw_data.contract[0].type = protocol.Transaction.Contract.AccountPermissionUpdateContract
    with pytest.raises(MalformedTransaction) as caught:
        decode_transaction(raw_bytes(tx))
    assert caught.value.reason == "UNSUPPORTED_CONTRACT"


def test_decode_refuses_a_trigger_that_also_sends_a_trc10_token():
    value = protocol.TriggerSmartContract(
        owner_address=b"\x41" + bytes(20), contract_address=b"\x41" + bytes(20), call_token_value=5, token_id=1000001
    )
    contract = make_contract(value)
    with pytest.raises(MalformedTransaction, match="TRC10"):
        decode_transaction(build_transaction(contract, ref_block_number=BLOCK_NUMBER, ref_block_id=BLOCK_ID, **TIMES))


def test_decode_refuses_a_malformed_owner_address():
    tx = build_transaction(make_contract(protocol.WithdrawExpireUnfreezeContract(owner_address=b"\x41" + bytes(19))),
                           ref_block_number=BLOCK_NUMBER, ref_block_id=BLOCK_ID, **TIMES)
    with pytest.raises(MalformedTransaction, match="owner_address"):
        decode_transaction(tx)


def test_decode_refuses_garbage():
    with pytest.raises(MalformedTransaction):
        decode_transaction(b"\xff\xff\xff")


@given(st.binary(max_size=300))
def test_decode_raises_only_malformed_transaction_on_arbitrary_bytes(data):
    try:
        decode_transaction(data)
    except MalformedTransaction:
        pass


def test_decoded_contract_fields_that_do_not_apply_are_none():
    decoded = decode_transaction(transfer_tx())
    assert decoded.contract == DecodedContract("TransferContract", OWNER, to_address=USDT, amount_sun=1_000_000)
    assert decoded.contract.resource is None and decoded.contract.call_data is None

"""SignTransaction over gRPC: a signature only for a transaction that does exactly what the intent says, from the
wallet's own key; every other request refused with its own code and reason, nothing signed."""

from __future__ import annotations

import time

import grpc
import pytest
from google.protobuf import field_mask_pb2

from fixtures.rpc_errors import error_reason, field_violations, precondition_violations, quota_violation
from integration.wallet_manager.wallet_kit import (
    RECIPIENT,
    USDT,
    Running,
    create_hd,
    generous_policy,
    raw_data,
    sign_request,
    trx_caps,
    trx_transfer,
    usdt_transfer,
)
from lucid.tron.v1 import common_pb2, wallet_pb2
from lucid_tron.chain import (
    delegate_resource,
    encode_call,
    freeze_balance_v2,
    recover_address,
    trigger_smart_contract,
    txid,
)

OTHER = "TKWJdrQkqHisa1X8HUdHEfREvTzw4pMAaY"


async def sign_refused(running: Running, request: wallet_pb2.SignTransactionRequest) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.stub.SignTransaction(request)
    return refused.value


async def test_a_trx_transfer_matching_its_intent_is_signed_by_the_owner_key(running: Running) -> None:
    wallet = await create_hd(running.stub)
    raw, intent = trx_transfer(wallet.first_address, 1_500_000)

    signed = await running.stub.SignTransaction(sign_request(wallet.wallet_id, raw, intent, txid=txid(raw).hex()))

    assert signed.txid == txid(raw).hex()
    assert recover_address(txid(raw), signed.signature) == wallet.first_address


async def test_a_derived_address_signs_with_its_own_key(running: Running) -> None:
    wallet = await create_hd(running.stub)
    derived = (await running.stub.DeriveAddress(wallet_pb2.DeriveAddressRequest(wallet_id=wallet.wallet_id))).address
    raw, intent = usdt_transfer(derived.address, 2_000_000)

    signed = await running.stub.SignTransaction(sign_request(wallet.wallet_id, raw, intent))

    assert recover_address(txid(raw), signed.signature) == derived.address


async def test_staking_kinds_are_signed_when_they_match(running: Running) -> None:
    wallet = await create_hd(running.stub)
    owner = wallet.first_address
    freeze = wallet_pb2.TransactionIntent(
        kind=wallet_pb2.TRANSACTION_KIND_FREEZE_BALANCE_V2, owner_address=owner, asset=common_pb2.ASSET_TRX,
        amount_base_units=10_000_000, resource=common_pb2.RESOURCE_ENERGY,
    )
    delegate = wallet_pb2.TransactionIntent(
        kind=wallet_pb2.TRANSACTION_KIND_DELEGATE_RESOURCE, owner_address=owner, recipient_address=RECIPIENT,
        asset=common_pb2.ASSET_TRX, amount_base_units=5_000_000, resource=common_pb2.RESOURCE_BANDWIDTH, lock=True,
        lock_period_blocks=28_800,
    )

    for raw, intent in (
        (raw_data(freeze_balance_v2(owner, 10_000_000, "ENERGY")), freeze),
        (raw_data(delegate_resource(owner, RECIPIENT, 5_000_000, "BANDWIDTH", lock=True, lock_period=28_800)), delegate),
    ):
        signed = await running.stub.SignTransaction(sign_request(wallet.wallet_id, raw, intent))
        assert recover_address(txid(raw), signed.signature) == owner


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("recipient_address", OTHER),
        ("amount_base_units", 1_500_001),
        ("asset", USDT),
        ("kind", wallet_pb2.TRANSACTION_KIND_TRC20_TRANSFER),
        ("fee_limit_sun", 1),
        ("resource", common_pb2.RESOURCE_ENERGY),
        ("lock", True),
        ("lock_period_blocks", 10),
    ],
)
async def test_an_intent_differing_in_one_field_is_refused_naming_that_field(
    running: Running, field: str, value: object
) -> None:
    wallet = await create_hd(running.stub)
    raw, intent = trx_transfer(wallet.first_address, 1_500_000)
    setattr(intent, field, value)

    refused = await sign_refused(running, sign_request(wallet.wallet_id, raw, intent))

    assert error_reason(refused) == "INTENT_MISMATCH"
    assert list(precondition_violations(refused)) == [f"intent.{field}"]


async def test_an_intent_differing_in_several_fields_lists_each(running: Running) -> None:
    wallet = await create_hd(running.stub)
    raw, intent = usdt_transfer(wallet.first_address, 7_000_000)
    intent.recipient_address = OTHER
    intent.amount_base_units = 70_000_000

    refused = await sign_refused(running, sign_request(wallet.wallet_id, raw, intent))

    violations = precondition_violations(refused)
    assert set(violations) == {"intent.recipient_address", "intent.amount_base_units"}
    assert "70000000" in violations["intent.amount_base_units"] and "7000000" in violations["intent.amount_base_units"]


async def test_a_token_call_to_another_contract_is_an_intent_mismatch_on_the_asset(running: Running) -> None:
    wallet = await create_hd(running.stub)
    owner = wallet.first_address
    call = encode_call("transfer(address,uint256)", RECIPIENT, 5)
    raw = raw_data(trigger_smart_contract(owner, OTHER, call), fee_limit_sun=10)
    _, intent = usdt_transfer(owner, 5, fee_limit_sun=10)

    refused = await sign_refused(running, sign_request(wallet.wallet_id, raw, intent))

    assert list(precondition_violations(refused)) == ["intent.asset"]


async def test_a_txid_that_is_not_sha256_of_raw_data_is_invalid(running: Running) -> None:
    wallet = await create_hd(running.stub)
    raw, intent = trx_transfer(wallet.first_address, 1)

    refused = await sign_refused(running, sign_request(wallet.wallet_id, raw, intent, txid="ab" * 32))

    assert "sha256" in field_violations(refused)["txid"]
    assert error_reason(refused) == "TXID_MISMATCH"


async def test_raw_data_that_does_not_decode_is_invalid(running: Running) -> None:
    wallet = await create_hd(running.stub)
    _, intent = trx_transfer(wallet.first_address, 1)

    refused = await sign_refused(running, sign_request(wallet.wallet_id, b"\xff\x00garbage", intent))

    assert "raw_data" in field_violations(refused)
    assert error_reason(refused) == "MALFORMED_TRANSACTION"


async def test_oversized_raw_data_is_invalid_before_decoding(running: Running) -> None:
    wallet = await create_hd(running.stub)
    _, intent = trx_transfer(wallet.first_address, 1)

    refused = await sign_refused(running, sign_request(wallet.wallet_id, b"\x00" * 5000, intent))

    assert "at most 4096 bytes" in field_violations(refused)["raw_data"]


async def test_an_expired_transaction_is_refused(running: Running) -> None:
    wallet = await create_hd(running.stub)
    raw, intent = trx_transfer(wallet.first_address, 1, expiration_ms=int(time.time() * 1000) - 1000)

    refused = await sign_refused(running, sign_request(wallet.wallet_id, raw, intent))

    assert error_reason(refused) == "TRANSACTION_EXPIRED"


async def test_a_transaction_with_a_memo_is_refused(running: Running) -> None:
    wallet = await create_hd(running.stub)
    raw, intent = trx_transfer(wallet.first_address, 1, memo=b"hello")

    refused = await sign_refused(running, sign_request(wallet.wallet_id, raw, intent))

    assert error_reason(refused) == "MEMO_NOT_ALLOWED"


async def test_a_fee_limit_over_the_policy_is_refused(running: Running) -> None:
    wallet = await create_hd(running.stub, spend_policy=generous_policy(max_fee_limit_sun=1_000_000))
    raw, intent = usdt_transfer(wallet.first_address, 1, fee_limit_sun=1_000_001)

    refused = await sign_refused(running, sign_request(wallet.wallet_id, raw, intent))

    assert error_reason(refused) == "FEE_LIMIT_OVER_POLICY"


async def test_a_kind_the_policy_does_not_allow_is_refused(running: Running) -> None:
    wallet = await create_hd(running.stub, spend_policy=generous_policy(allowed_kinds=[wallet_pb2.TRANSACTION_KIND_TRC20_TRANSFER]))
    raw, intent = trx_transfer(wallet.first_address, 1)

    refused = await sign_refused(running, sign_request(wallet.wallet_id, raw, intent))

    assert error_reason(refused) == "KIND_NOT_ALLOWED"


async def test_a_contract_the_policy_does_not_allow_is_refused(running: Running) -> None:
    wallet = await create_hd(running.stub, spend_policy=generous_policy(allowed_contracts=[OTHER]))
    raw, intent = usdt_transfer(wallet.first_address, 1)

    refused = await sign_refused(running, sign_request(wallet.wallet_id, raw, intent))

    assert error_reason(refused) == "CONTRACT_NOT_ALLOWED"


async def test_a_wallet_without_a_policy_signs_nothing(running: Running) -> None:
    wallet = await create_hd(running.stub, spend_policy=wallet_pb2.SpendPolicy())
    raw, intent = trx_transfer(wallet.first_address, 1)

    refused = await sign_refused(running, sign_request(wallet.wallet_id, raw, intent))

    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(refused) == "KIND_NOT_ALLOWED"


async def test_an_owner_that_is_not_an_address_of_the_wallet_is_refused(running: Running) -> None:
    wallet = await create_hd(running.stub)
    raw, intent = trx_transfer(OTHER, 1)

    refused = await sign_refused(running, sign_request(wallet.wallet_id, raw, intent))

    assert error_reason(refused) == "NOT_A_WALLET_ADDRESS"


async def test_signing_for_a_watch_only_wallet_is_a_failed_precondition(running: Running) -> None:
    import uuid

    watch = await running.stub.CreateWallet(
        wallet_pb2.CreateWalletRequest(
            request_id=str(uuid.uuid4()),
            wallet=wallet_pb2.Wallet(
                kind=wallet_pb2.WALLET_KIND_WATCH_ONLY, first_address=OTHER, spend_policy=generous_policy()
            ),
        )
    )
    raw, intent = trx_transfer(OTHER, 1)

    refused = await sign_refused(running, sign_request(watch.wallet.wallet_id, raw, intent))

    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(refused) == "WALLET_KIND"


async def test_signing_for_an_unknown_wallet_is_not_found(running: Running) -> None:
    raw, intent = trx_transfer(OTHER, 1)

    refused = await sign_refused(running, sign_request("w_" + "2" * 24, raw, intent))

    assert refused.code() == grpc.StatusCode.NOT_FOUND


async def test_an_unknown_transaction_kind_is_invalid(running: Running) -> None:
    wallet = await create_hd(running.stub)
    raw, intent = trx_transfer(wallet.first_address, 1)
    intent.kind = 99

    refused = await sign_refused(running, sign_request(wallet.wallet_id, raw, intent))

    assert "intent.kind" in field_violations(refused)


async def test_an_amount_over_the_per_transaction_cap_is_resource_exhausted(running: Running) -> None:
    wallet = await create_hd(running.stub, spend_policy=trx_caps(100, 1000))
    raw, intent = trx_transfer(wallet.first_address, 101)

    refused = await sign_refused(running, sign_request(wallet.wallet_id, raw, intent))

    assert error_reason(refused) == "PER_TRANSACTION_CAP"
    assert quota_violation(refused).subject == f"wallet:{wallet.wallet_id}:TRX:per_transaction"


async def test_an_asset_without_a_cap_cannot_be_moved(running: Running) -> None:
    wallet = await create_hd(running.stub, spend_policy=trx_caps(100, 1000))
    raw, intent = usdt_transfer(wallet.first_address, 1)

    refused = await sign_refused(running, sign_request(wallet.wallet_id, raw, intent))

    assert error_reason(refused) == "ASSET_NOT_ALLOWED"


async def test_a_policy_change_takes_effect_on_the_next_signature(running: Running) -> None:
    wallet = await create_hd(running.stub)
    raw, intent = trx_transfer(wallet.first_address, 1)
    await running.stub.UpdateWallet(
        wallet_pb2.UpdateWalletRequest(
            wallet=wallet_pb2.Wallet(wallet_id=wallet.wallet_id, spend_policy=wallet_pb2.SpendPolicy()),
            update_mask=field_mask_pb2.FieldMask(paths=["spend_policy"]),
        )
    )

    refused = await sign_refused(running, sign_request(wallet.wallet_id, raw, intent))

    assert error_reason(refused) == "KIND_NOT_ALLOWED"


async def test_a_usdt_transfer_stated_as_trx_is_an_intent_mismatch_on_the_asset(running: Running) -> None:
    wallet = await create_hd(running.stub)
    raw, intent = usdt_transfer(wallet.first_address, 3)
    intent.asset = common_pb2.ASSET_TRX

    refused = await sign_refused(running, sign_request(wallet.wallet_id, raw, intent))

    assert "USDT" in precondition_violations(refused)["intent.asset"]

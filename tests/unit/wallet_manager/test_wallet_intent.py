"""Reading a decoded transaction as an intent, and the fields in which a stated intent differs from it."""

from __future__ import annotations

from lucid_tron.chain import (
    cancel_all_unfreeze_v2,
    build_transaction,
    decode_transaction,
    delegate_resource,
    encode_call,
    make_block_id,
    transfer_contract,
    trc20_transfer,
    trigger_smart_contract,
    withdraw_expire_unfreeze,
)
from lucid_tron.services.wallet_manager.intent import Intent, mismatches, observe

OWNER = "TKWJdrQkqHisa1X8HUdHEfREvTzw4pMAaY"
TO = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
TOKENS = {USDT: "USDT"}


def decoded(contract, fee_limit_sun: int = 0):  # type: ignore[no-untyped-def]
    tx = build_transaction(
        contract, ref_block_number=1, ref_block_id=make_block_id(1, bytes(32)), expiration_ms=2, timestamp_ms=1,
        fee_limit_sun=fee_limit_sun,
    )
    return decode_transaction(tx)


def intent(**fields: object) -> Intent:
    values = dict(kind=None, owner_address=OWNER, recipient_address=None, asset=None, amount_base_units=0,
                  resource=None, lock=False, lock_period_blocks=0, fee_limit_sun=0)
    values.update(fields)
    return Intent(**values)  # type: ignore[arg-type]


def test_a_trx_transfer_reads_as_its_recipient_and_amount_in_sun() -> None:
    seen = observe(decoded(transfer_contract(OWNER, TO, 7)), TOKENS)

    assert seen.intent == intent(kind="TRX_TRANSFER", recipient_address=TO, asset="TRX", amount_base_units=7)
    assert seen.unexpressible == ()


def test_a_usdt_transfer_reads_as_the_token_call_with_its_fee_limit() -> None:
    seen = observe(decoded(trc20_transfer(OWNER, USDT, TO, 5), fee_limit_sun=9), TOKENS)

    assert seen.intent == intent(
        kind="TRC20_TRANSFER", recipient_address=TO, asset="USDT", amount_base_units=5, fee_limit_sun=9
    )
    assert seen.contract_address == USDT


def test_an_approve_reads_as_its_spender_and_allowance() -> None:
    call = encode_call("approve(address,uint256)", TO, 123)

    seen = observe(decoded(trigger_smart_contract(OWNER, USDT, call)), TOKENS)

    assert (seen.intent.kind, seen.intent.recipient_address, seen.intent.amount_base_units) == ("TRC20_APPROVE", TO, 123)


def test_any_other_contract_call_has_no_kind() -> None:
    call = encode_call("mint(address,uint256)", TO, 1)

    assert observe(decoded(trigger_smart_contract(OWNER, USDT, call)), TOKENS).intent.kind is None


def test_trx_sent_along_with_a_token_call_is_reported_though_no_intent_can_say_it() -> None:
    contract = trigger_smart_contract(OWNER, USDT, encode_call("transfer(address,uint256)", TO, 1), call_value_sun=5)

    (extra,) = observe(decoded(contract), TOKENS).unexpressible

    assert extra.subject == "raw_data.contract.call_value"


def test_a_locked_delegation_reads_with_its_lock_period() -> None:
    contract = delegate_resource(OWNER, TO, 10, "ENERGY", lock=True, lock_period=100)

    seen = observe(decoded(contract), TOKENS).intent

    assert (seen.kind, seen.resource, seen.lock, seen.lock_period_blocks) == ("DELEGATE_RESOURCE", "ENERGY", True, 100)


def test_cancelling_all_unstakes_reads_as_its_own_kind_with_nothing_moved() -> None:
    seen = observe(decoded(cancel_all_unfreeze_v2(OWNER)), TOKENS).intent

    assert seen == intent(kind="CANCEL_ALL_UNFREEZE_V2", asset="TRX")


def test_matching_intents_have_no_mismatch_and_each_differing_field_is_named() -> None:
    seen = observe(decoded(withdraw_expire_unfreeze(OWNER)), TOKENS)
    stated = intent(kind="WITHDRAW_EXPIRE_UNFREEZE", asset="TRX")

    assert mismatches(stated, seen) == ()
    wrong = intent(kind="TRX_TRANSFER", asset="TRX", amount_base_units=3)
    assert [v.subject for v in mismatches(wrong, seen)] == ["intent.kind", "intent.amount_base_units"]

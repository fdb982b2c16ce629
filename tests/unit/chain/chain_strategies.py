"""Hypothesis strategies shared by the lucid_tron.chain tests: every contract type with the DecodedContract it must
decode to, and the reference-block and time fields of a transaction."""

from hypothesis import strategies as st

from lucid_tron.chain import (
    MAX_INT64,
    DecodedContract,
    cancel_all_unfreeze_v2,
    delegate_resource,
    freeze_balance_v2,
    make_block_id,
    to_base58,
    transfer_contract,
    trigger_smart_contract,
    undelegate_resource,
    unfreeze_balance_v2,
    withdraw_expire_unfreeze,
)

addresses = st.binary(min_size=20, max_size=20).map(lambda account_id: to_base58(b"\x41" + account_id))
amounts = st.integers(min_value=1, max_value=MAX_INT64)
resources = st.sampled_from(["BANDWIDTH", "ENERGY", "TRON_POWER"])


def _transfer(owner, to, amount):
    return transfer_contract(owner, to, amount), DecodedContract(
        "TransferContract", owner, to_address=to, amount_sun=amount
    )


def _trigger(owner, contract, data, call_value):
    return trigger_smart_contract(owner, contract, data, call_value), DecodedContract(
        "TriggerSmartContract", owner, contract_address=contract, call_value_sun=call_value, call_data=data
    )


def _freeze(owner, amount, resource):
    return freeze_balance_v2(owner, amount, resource), DecodedContract(
        "FreezeBalanceV2Contract", owner, amount_sun=amount, resource=resource
    )


def _unfreeze(owner, amount, resource):
    return unfreeze_balance_v2(owner, amount, resource), DecodedContract(
        "UnfreezeBalanceV2Contract", owner, amount_sun=amount, resource=resource
    )


def _delegate(owner, receiver, amount, resource, lock_period):
    lock = lock_period is not None
    period = lock_period or 0
    return delegate_resource(owner, receiver, amount, resource, lock=lock, lock_period=period), DecodedContract(
        "DelegateResourceContract",
        owner,
        to_address=receiver,
        amount_sun=amount,
        resource=resource,
        lock=lock,
        lock_period=period,
    )


def _undelegate(owner, receiver, amount, resource):
    return undelegate_resource(owner, receiver, amount, resource), DecodedContract(
        "UnDelegateResourceContract", owner, to_address=receiver, amount_sun=amount, resource=resource
    )


def _withdraw(owner):
    return withdraw_expire_unfreeze(owner), DecodedContract("WithdrawExpireUnfreezeContract", owner)


def _cancel(owner):
    return cancel_all_unfreeze_v2(owner), DecodedContract("CancelAllUnfreezeV2Contract", owner)


#: (protocol.Transaction.Contract, the DecodedContract it stands for), over every contract type lucid-tron builds.
contracts_with_intent = st.one_of(
    st.builds(_transfer, addresses, addresses, amounts),
    st.builds(
        _trigger, addresses, addresses, st.binary(max_size=200), st.integers(min_value=0, max_value=MAX_INT64)
    ),
    st.builds(_freeze, addresses, amounts, resources),
    st.builds(_unfreeze, addresses, amounts, resources),
    st.builds(
        _delegate, addresses, addresses, amounts, resources, st.none() | st.integers(min_value=0, max_value=10**9)
    ),
    st.builds(_undelegate, addresses, addresses, amounts, resources),
    st.builds(_withdraw, addresses),
    st.builds(_cancel, addresses),
)


@st.composite
def transaction_fields(draw):
    """Keyword arguments of build_transaction other than the contract."""
    number = draw(st.integers(min_value=0, max_value=2**40))
    timestamp = draw(st.integers(min_value=1, max_value=2**45))
    return {
        "ref_block_number": number,
        "ref_block_id": make_block_id(number, draw(st.binary(min_size=32, max_size=32))),
        "timestamp_ms": timestamp,
        "expiration_ms": timestamp + draw(st.integers(min_value=1, max_value=86_400_000)),
        "fee_limit_sun": draw(st.integers(min_value=0, max_value=15_000_000_000)),
        "memo": draw(st.binary(max_size=64)),
    }

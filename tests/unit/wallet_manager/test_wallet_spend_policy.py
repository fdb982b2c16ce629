"""The static rules of a spend policy: deny by default, then kinds, contracts, fee limit, assets and per-transaction
caps; a document round trip."""

from __future__ import annotations

import pytest

from lucid_tron.errors import FailedPrecondition, ResourceExhausted
from lucid_tron.services.wallet_manager.spend_policy import AssetCap, SpendPolicy, daily_cap_reached

USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
POLICY = SpendPolicy(
    caps=(AssetCap("TRX", 100, 1000), AssetCap("USDT", 50, 60)),
    allowed_kinds=frozenset({"TRX_TRANSFER", "TRC20_TRANSFER", "FREEZE_BALANCE_V2"}),
    allowed_contracts=frozenset({USDT}),
    max_fee_limit_sun=30,
)


def check(policy: SpendPolicy = POLICY, **fields: object) -> AssetCap | None:
    values: dict[str, object] = dict(wallet_id="w_1", kind="TRX_TRANSFER", asset="TRX", amount=1, contract=None,
                                     fee_limit_sun=0)
    values.update(fields)
    return policy.check(**values)  # type: ignore[arg-type]


def test_an_empty_policy_signs_nothing() -> None:
    with pytest.raises(FailedPrecondition) as refused:
        check(SpendPolicy())
    assert refused.value.reason == "KIND_NOT_ALLOWED"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"kind": "TRC20_APPROVE", "asset": "USDT", "contract": USDT}, "KIND_NOT_ALLOWED"),
        ({"kind": "TRC20_TRANSFER", "asset": "USDT", "contract": "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"},
         "CONTRACT_NOT_ALLOWED"),
        ({"fee_limit_sun": 31}, "FEE_LIMIT_OVER_POLICY"),
    ],
)
def test_what_the_policy_does_not_allow_is_a_failed_precondition(fields: dict[str, object], reason: str) -> None:
    with pytest.raises(FailedPrecondition) as refused:
        check(**fields)
    assert refused.value.reason == reason


def test_an_amount_over_the_per_transaction_cap_is_exhausted_and_names_the_cap() -> None:
    with pytest.raises(ResourceExhausted) as refused:
        check(amount=101)
    assert refused.value.reason == "PER_TRANSACTION_CAP"
    assert refused.value.quota is not None and refused.value.quota.subject == "wallet:w_1:TRX:per_transaction"


def test_a_spending_kind_returns_the_cap_to_count_against_and_staking_none() -> None:
    assert check(kind="TRC20_TRANSFER", asset="USDT", contract=USDT, amount=50) == AssetCap("USDT", 50, 60)
    assert check(kind="FREEZE_BALANCE_V2", amount=10**12) is None


def test_the_daily_refusal_says_what_is_left() -> None:
    refused = daily_cap_reached("w_1", "USDT", AssetCap("USDT", 50, 60), spent=40, amount=30)

    assert refused.reason == "DAILY_CAP"
    assert "20 left today" in refused.message


def test_a_policy_survives_its_document() -> None:
    assert SpendPolicy.from_document(POLICY.to_document()) == POLICY
    assert SpendPolicy.from_document(None) == SpendPolicy()

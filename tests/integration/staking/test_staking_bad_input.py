"""Every RPC refuses bad input with INVALID_ARGUMENT naming the field, before touching a peer; never INTERNAL."""

from __future__ import annotations

import grpc
import pytest

from fixtures.rpc_errors import field_violations
from integration.staking.staking_kit import ENERGY, TRX, StakingStack
from lucid.tron.v1 import staking_pb2

S = staking_pb2
OTHER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
RECEIVER = "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC"
HEX = "41" + "ab" * 20
WALLET = "w_" + "0" * 24
MAX_INT64 = 2**63 - 1


def write(method: str, message, **fields):
    values = {"request_id": "r-1", "wallet_id": WALLET, "owner_address": OTHER}
    names = message.DESCRIPTOR.fields_by_name
    if "resource" in names:
        values |= {"resource": ENERGY, "amount_sun": 10 * TRX}
    if "receiver_address" in names:
        values["receiver_address"] = RECEIVER
    return method, message(**{**values, **fields})


def freeze(**fields):
    return write("FreezeBalance", S.FreezeBalanceRequest, **fields)


def unfreeze(**fields):
    return write("UnfreezeBalance", S.UnfreezeBalanceRequest, **fields)


def delegate(**fields):
    return write("DelegateResource", S.DelegateResourceRequest, **fields)


def undelegate(**fields):
    return write("UndelegateResource", S.UndelegateResourceRequest, **fields)


def forecast(**fields):
    return "ForecastResources", S.ForecastResourcesRequest(**{"address": OTHER, **fields})


CASES = {
    "freeze: no request_id": (freeze(request_id=""), "request_id"),
    "freeze: request_id too long": (freeze(request_id="r" * 129), "request_id"),
    "freeze: bad wallet_id": (freeze(wallet_id="wallet-1"), "wallet_id"),
    "freeze: not an address": (freeze(owner_address="T123"), "owner_address"),
    "freeze: hex address": (freeze(owner_address=HEX), "owner_address"),
    "freeze: no resource": (freeze(resource=0), "resource"),
    "freeze: unknown resource": (freeze(resource=7), "resource"),
    "freeze: zero amount": (freeze(amount_sun=0), "amount_sun"),
    "freeze: negative amount": (freeze(amount_sun=-5), "amount_sun"),
    "freeze: below 1 TRX": (freeze(amount_sun=TRX - 1), "amount_sun"),
    "unfreeze: zero amount": (unfreeze(amount_sun=0), "amount_sun"),
    "unfreeze: negative amount": (unfreeze(amount_sun=-1), "amount_sun"),
    "delegate: below 1 TRX": (delegate(amount_sun=1), "amount_sun"),
    "delegate: negative amount": (delegate(amount_sun=-TRX), "amount_sun"),
    "delegate: no receiver": (delegate(receiver_address=""), "receiver_address"),
    "delegate: bad receiver": (delegate(receiver_address="TXYZ"), "receiver_address"),
    "delegate: to itself": (delegate(receiver_address=OTHER), "receiver_address"),
    "delegate: negative lock period": (delegate(lock=True, lock_period_blocks=-1), "lock_period_blocks"),
    "delegate: lock period without lock": (delegate(lock_period_blocks=100), "lock_period_blocks"),
    "undelegate: zero amount": (undelegate(amount_sun=0), "amount_sun"),
    "undelegate: bad receiver": (undelegate(receiver_address=HEX), "receiver_address"),
    "withdraw: no owner": (write("WithdrawExpireUnfreeze", S.WithdrawExpireUnfreezeRequest, owner_address=""),
                           "owner_address"),
    "cancel: bad wallet": (write("CancelAllUnfreeze", S.CancelAllUnfreezeRequest, wallet_id="w_x"), "wallet_id"),
    "resources: no address": (("GetResources", S.GetResourcesRequest()), "address"),
    "resources: hex address": (("GetResources", S.GetResourcesRequest(address=HEX)), "address"),
    "forecast: negative extra stake": (forecast(additional_energy_stake_sun=-1), "additional_energy_stake_sun"),
    "forecast: negative target": (forecast(target_usdt_transfers_per_day=-1), "target_usdt_transfers_per_day"),
    "forecast: target too large": (forecast(target_usdt_transfers_per_day=MAX_INT64), "target_usdt_transfers_per_day"),
    "forecast: negative planned": (forecast(planned_usdt_transfers=-3), "planned_usdt_transfers"),
}


@pytest.mark.parametrize(("call", "field"), CASES.values(), ids=CASES.keys())
async def test_bad_input_is_invalid_argument_naming_the_field(stack: StakingStack, call, field: str) -> None:
    method, request = call
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await getattr(stack.stub, method)(request)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, raised.value.details()
    assert field in field_violations(raised.value)


async def test_every_bad_field_is_named_at_once(stack: StakingStack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.DelegateResource(S.DelegateResourceRequest(amount_sun=-1, lock_period_blocks=5))
    assert set(field_violations(raised.value)) == {
        "request_id", "wallet_id", "owner_address", "receiver_address", "resource", "amount_sun",
        "lock_period_blocks",
    }


async def test_the_largest_amount_is_a_short_balance_not_an_overflow(stack: StakingStack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.FreezeBalance(stack.freeze(ENERGY, MAX_INT64))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_an_unknown_wallet_is_not_found(stack: StakingStack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.FreezeBalance(stack.freeze(ENERGY, 10 * TRX, wallet_id=WALLET))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_the_largest_forecast_inputs_are_answered(stack: StakingStack) -> None:
    found = await stack.stub.ForecastResources(
        S.ForecastResourcesRequest(address=stack.owner, additional_energy_stake_sun=MAX_INT64,
                                   planned_usdt_transfers=100_000)
    )
    assert len(found.hourly) == 25

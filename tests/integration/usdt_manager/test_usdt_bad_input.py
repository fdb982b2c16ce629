"""Every RPC refuses bad input with INVALID_ARGUMENT naming the field, before touching a peer; unknown things are
NOT_FOUND and impossible ones FAILED_PRECONDITION, never INTERNAL."""

from __future__ import annotations

import grpc
import pytest

from fixtures.rpc_errors import error_reason, field_violations
from integration.usdt_manager.usdt_kit import UsdtStack, fresh_address
from lucid.tron.v1 import usdt_pb2

S = usdt_pb2
MAX_INT64 = 2**63 - 1
OTHER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
HEX = "41" + "ab" * 20
WALLET = "w_" + "0" * 24


def transfer(**fields):
    values = {"request_id": "r-1", "wallet_id": WALLET, "from_address": OTHER, "to_address": fresh_address(),
              "amount_base_units": 1}
    return "Transfer", S.TransferRequest(**{**values, **fields})


def approve(**fields):
    values = {"request_id": "r-1", "wallet_id": WALLET, "owner_address": OTHER, "spender_address": fresh_address(),
              "amount_base_units": 1}
    return "Approve", S.ApproveRequest(**{**values, **fields})


def estimate(**fields):
    values = {"from_address": OTHER, "to_address": fresh_address(), "amount_base_units": 1}
    return "EstimateTransfer", S.EstimateTransferRequest(**{**values, **fields})


def history(**fields):
    return "ListTransfers", S.ListTransfersRequest(**{"address": OTHER, **fields})


def later_than_start(**fields):
    request = S.ListTransfersRequest(address=OTHER)
    request.start_time.FromSeconds(2_000_000_000)
    request.end_time.FromSeconds(1_000_000_000)
    return "ListTransfers", request


CASES = {
    "balance: no address": (("GetBalance", S.GetBalanceRequest()), "address"),
    "balance: not an address": (("GetBalance", S.GetBalanceRequest(address="T123")), "address"),
    "balance: hex address": (("GetBalance", S.GetBalanceRequest(address=HEX)), "address"),
    "balance: unknown finality": (("GetBalance", S.GetBalanceRequest(address=OTHER, finality=9)), "finality"),
    "transfer: no request_id": (transfer(request_id=""), "request_id"),
    "transfer: request_id too long": (transfer(request_id="r" * 129), "request_id"),
    "transfer: bad wallet_id": (transfer(wallet_id="wallet-1"), "wallet_id"),
    "transfer: bad from_address": (transfer(from_address="TXYZ"), "from_address"),
    "transfer: no to_address": (transfer(to_address=""), "to_address"),
    "transfer: to self": (transfer(to_address=OTHER), "to_address"),
    "transfer: zero amount": (transfer(amount_base_units=0), "amount_base_units"),
    "transfer: negative amount": (transfer(amount_base_units=-5), "amount_base_units"),
    "transfer: negative fee limit": (transfer(fee_limit_sun=-1), "fee_limit_sun"),
    "transfer: fee limit over the cap": (transfer(fee_limit_sun=MAX_INT64), "fee_limit_sun"),
    "transfer: reference too long": (transfer(reference="x" * 129), "reference"),
    "get transfer: bad txid": (("GetTransfer", S.GetTransferRequest(txid="abc")), "txid"),
    "approve: negative amount": (approve(amount_base_units=-1), "amount_base_units"),
    "approve: spender is owner": (approve(spender_address=OTHER), "spender_address"),
    "approve: no owner": (approve(owner_address=""), "owner_address"),
    "allowance: no spender": (("GetAllowance", S.GetAllowanceRequest(owner_address=OTHER)), "spender_address"),
    "estimate: zero amount": (estimate(amount_base_units=0), "amount_base_units"),
    "estimate: to self": (estimate(to_address=OTHER), "to_address"),
    "history: page size too big": (history(page_size=201), "page_size"),
    "history: negative page size": (history(page_size=-1), "page_size"),
    "history: unknown direction": (history(direction=7), "direction"),
    "history: end before start": (later_than_start(), "end_time"),
}


@pytest.mark.parametrize(("call", "field"), CASES.values(), ids=CASES.keys())
async def test_bad_input_is_invalid_argument_naming_the_field(stack: UsdtStack, call, field: str) -> None:
    method, request = call
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await getattr(stack.stub, method)(request)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, raised.value.details()
    assert field in field_violations(raised.value)


async def test_every_bad_field_is_named_at_once(stack: UsdtStack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.Transfer(S.TransferRequest(amount_base_units=-1))
    assert set(field_violations(raised.value)) == {
        "request_id", "wallet_id", "from_address", "to_address", "amount_base_units",
    }


async def test_the_largest_amount_is_a_short_balance_not_an_overflow(stack: UsdtStack) -> None:
    holder = stack.activated_address(usdt=1)

    found = await stack.stub.EstimateTransfer(
        S.EstimateTransferRequest(from_address=stack.sender, to_address=holder, amount_base_units=MAX_INT64)
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.Transfer(stack.transfer_request(holder, MAX_INT64))

    assert list(found.warnings) == ["USDT_BALANCE_INSUFFICIENT"]
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "USDT_BALANCE_INSUFFICIENT"


async def test_an_unknown_wallet_is_not_found(stack: UsdtStack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.Transfer(stack.transfer_request(stack.activated_address(usdt=1), 1_000_000, wallet_id=WALLET))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_an_address_outside_the_wallet_is_refused_by_the_signer(stack: UsdtStack) -> None:
    outsider = stack.activated_address("outsider", usdt=5_000_000)
    stack.devnet.fund(outsider, trx_sun=100_000_000)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.Transfer(stack.transfer_request(stack.activated_address(usdt=1), 1_000_000,
                                                         from_address=outsider))

    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "NOT_A_WALLET_ADDRESS"
    assert stack.devnet.produce_block().txids == ()

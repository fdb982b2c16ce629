"""GetBalance, Approve and GetAllowance on devnet: balances and allowances in the view asked for, an approval sent
once per request_id."""

from __future__ import annotations

import uuid

from tronpy import AsyncTron

from integration.usdt_manager.usdt_kit import SENDER_TRX_SUN, SENDER_USDT, UsdtStack
from lucid.tron.v1 import common_pb2, usdt_pb2

S = usdt_pb2
HEAD = common_pb2.FINALITY_HEAD


def approve_request(stack: UsdtStack, spender: str, amount: int, **fields) -> usdt_pb2.ApproveRequest:
    fields.setdefault("request_id", str(uuid.uuid4()))
    return S.ApproveRequest(
        wallet_id=stack.wallet_id, owner_address=stack.sender, spender_address=spender, amount_base_units=amount,
        **fields,
    )


def allowance_request(stack: UsdtStack, spender: str, **fields) -> usdt_pb2.GetAllowanceRequest:
    return S.GetAllowanceRequest(owner_address=stack.sender, spender_address=spender, **fields)


async def test_get_balance_answers_usdt_and_trx_of_an_address(stack: UsdtStack) -> None:
    balance = await stack.stub.GetBalance(S.GetBalanceRequest(address=stack.sender))

    assert balance.address == stack.sender
    assert (balance.usdt_balance_base_units, balance.trx_balance_sun) == (SENDER_USDT, SENDER_TRX_SUN)
    assert balance.activated
    assert balance.finality == common_pb2.FINALITY_SOLIDIFIED


async def test_a_transfer_shows_at_head_before_the_solidified_balance(stack: UsdtStack) -> None:
    holder = stack.activated_address(usdt=1)
    await stack.stub.Transfer(stack.transfer_request(holder, 2_000_000))
    stack.devnet.produce_block()

    head = await stack.stub.GetBalance(S.GetBalanceRequest(address=holder, finality=HEAD))
    solid = await stack.stub.GetBalance(S.GetBalanceRequest(address=holder))
    stack.devnet.solidify()
    later = await stack.stub.GetBalance(S.GetBalanceRequest(address=holder))

    assert (head.usdt_balance_base_units, solid.usdt_balance_base_units) == (2_000_001, 1)
    assert later.usdt_balance_base_units == 2_000_001


async def test_an_approval_sets_the_allowance_the_chain_reports(stack: UsdtStack, tron: AsyncTron) -> None:
    spender = stack.activated_address("spender")

    approved = await stack.stub.Approve(approve_request(stack, spender, 7_000_000))
    landed = stack.settle()

    assert landed == (approved.transaction.txid,)
    assert 0 < approved.fee_limit_sun <= 50_000_000
    info = await tron.get_transaction_info(approved.transaction.txid)
    assert info["receipt"]["result"] == "SUCCESS"
    allowance = await stack.stub.GetAllowance(allowance_request(stack, spender))
    assert allowance.allowance_base_units == 7_000_000
    usdt = await tron.get_contract(stack.devnet.usdt_address)
    assert await usdt.functions.allowance(stack.sender, spender) == 7_000_000


async def test_an_approval_of_zero_revokes_and_shows_at_head_first(stack: UsdtStack) -> None:
    spender = stack.activated_address("spender")
    await stack.stub.Approve(approve_request(stack, spender, 5_000_000))
    stack.settle()

    await stack.stub.Approve(approve_request(stack, spender, 0))
    stack.devnet.produce_block()

    head = await stack.stub.GetAllowance(allowance_request(stack, spender, finality=HEAD))
    solid = await stack.stub.GetAllowance(allowance_request(stack, spender))
    assert (head.allowance_base_units, solid.allowance_base_units) == (0, 5_000_000)


async def test_an_approval_retried_with_its_request_id_is_sent_once(stack: UsdtStack) -> None:
    spender = stack.activated_address("spender")
    request = approve_request(stack, spender, 9_000_000)

    first = await stack.stub.Approve(request)
    again = await stack.stub.Approve(request)

    assert again == first
    assert stack.settle() == (first.transaction.txid,)

"""EstimateTransfer and the fee-limit policy on devnet: the recipient's class decides the energy, an unactivated
recipient is named, and no transaction carries a fee limit above FEE_LIMIT_CAP_SUN."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from tronpy import AsyncTron
from tronpy.exceptions import AddressNotFound

from fixtures.rpc_errors import error_reason, field_violations
from integration.usdt_manager.usdt_kit import SENDER_USDT, UsdtStack, fresh_address, usdt_stack
from lucid.tron.v1 import usdt_pb2, wallet_pb2
from lucid_tron.devnet import TRC20_ENERGY

S = usdt_pb2
ENERGY_PRICE_SUN = 100  # devnet's getEnergyFee, as mainnet's


def estimate_request(stack: UsdtStack, to: str, amount: int = 1_000_000) -> usdt_pb2.EstimateTransferRequest:
    return S.EstimateTransferRequest(from_address=stack.sender, to_address=to, amount_base_units=amount)


async def test_a_recipient_without_usdt_costs_the_new_holder_energy_and_a_holder_the_lower(stack: UsdtStack) -> None:
    fresh = await stack.stub.EstimateTransfer(estimate_request(stack, stack.activated_address("fresh")))
    holder = await stack.stub.EstimateTransfer(estimate_request(stack, stack.activated_address("holder", usdt=1)))

    assert (fresh.recipient_holds_usdt, fresh.energy_required) == (False, TRC20_ENERGY.TRANSFER_TO_NEW_HOLDER)
    assert (holder.recipient_holds_usdt, holder.energy_required) == (True, TRC20_ENERGY.TRANSFER_TO_HOLDER)
    assert fresh.estimated_by_node and holder.estimated_by_node
    assert fresh.recipient_activated and holder.recipient_activated
    assert list(fresh.warnings) == list(holder.warnings) == []


async def test_the_estimate_prices_the_energy_the_sender_lacks_and_adds_the_margin_to_the_fee_limit(
    stack: UsdtStack,
) -> None:
    found = await stack.stub.EstimateTransfer(estimate_request(stack, stack.activated_address(usdt=1)))

    energy_cost = TRC20_ENERGY.TRANSFER_TO_HOLDER * ENERGY_PRICE_SUN
    assert found.energy_available == 0  # nothing staked
    assert found.burn_fee_sun == energy_cost  # the free daily bandwidth covers the ~345 bytes
    assert 300 < found.bandwidth_required < 400
    assert found.bandwidth_available >= found.bandwidth_required
    assert found.suggested_fee_limit_sun == -(-energy_cost * 130 // 100)
    assert found.fee_limit_cap_sun == 50_000_000


async def test_an_unactivated_recipient_is_reported_and_left_unactivated(stack: UsdtStack, tron: AsyncTron) -> None:
    newcomer = fresh_address("never activated")

    found = await stack.stub.EstimateTransfer(estimate_request(stack, newcomer))

    assert (found.recipient_activated, found.recipient_holds_usdt) == (False, False)
    assert list(found.warnings) == ["RECIPIENT_NOT_ACTIVATED"]
    assert found.energy_required == TRC20_ENERGY.TRANSFER_TO_NEW_HOLDER
    assert stack.devnet.produce_block().txids == ()
    with pytest.raises(AddressNotFound):
        await tron.get_account(newcomer)


async def test_a_sender_short_of_usdt_gets_the_typical_figure_and_a_warning(stack: UsdtStack) -> None:
    found = await stack.stub.EstimateTransfer(estimate_request(stack, stack.activated_address(usdt=1), SENDER_USDT + 1))

    assert not found.estimated_by_node
    assert found.energy_required == 64_285
    assert list(found.warnings) == ["USDT_BALANCE_INSUFFICIENT"]


async def test_a_sender_without_trx_is_warned_and_its_transfer_refused(stack: UsdtStack) -> None:
    # A wallet address holding USDT but no TRX: it could burn nothing for the energy.
    derived = await stack.wallet.stub.DeriveAddress(wallet_pb2.DeriveAddressRequest(wallet_id=stack.wallet_id))
    broke = derived.address.address
    stack.devnet.fund(broke, usdt_units=5_000_000)
    holder = stack.activated_address(usdt=1)

    found = await stack.stub.EstimateTransfer(
        S.EstimateTransferRequest(from_address=broke, to_address=holder, amount_base_units=1_000_000)
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.Transfer(stack.transfer_request(holder, 1_000_000, from_address=broke))

    assert list(found.warnings) == ["TRX_BALANCE_INSUFFICIENT"]
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "TRX_BALANCE_INSUFFICIENT"


async def test_a_fee_limit_above_the_cap_is_invalid_and_the_default_stays_under_it(
    stack: UsdtStack, tron: AsyncTron
) -> None:
    holder = stack.activated_address(usdt=1)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.Transfer(stack.transfer_request(holder, 1_000_000, fee_limit_sun=50_000_001))
    sent = (await stack.stub.Transfer(stack.transfer_request(holder, 1_000_000))).transfer
    stack.settle()

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "fee_limit_sun" in field_violations(raised.value)
    on_chain = await tron.get_transaction(sent.txid)
    assert on_chain["raw_data"]["fee_limit"] == sent.fee_limit_sun <= 50_000_000


async def test_an_explicit_fee_limit_below_the_energy_cost_is_refused(stack: UsdtStack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.Transfer(stack.transfer_request(stack.activated_address(usdt=1), 1_000_000,
                                                         fee_limit_sun=1_000_000))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "FEE_LIMIT_BELOW_ESTIMATE"
    assert stack.devnet.produce_block().txids == ()


async def test_a_cap_below_what_the_transfer_needs_refuses_it_and_the_estimate_says_so(
    devnet, mongo_url: str, chain_redis_url: str, tmp_path: Path
) -> None:
    # 10 TRX covers a transfer to a holder (6.4 TRX + 30 %) but not to a new holder (13 TRX + 30 %).
    async with usdt_stack(devnet, mongo_url, chain_redis_url, tmp_path, fee_limit_cap_sun=10_000_000) as stack:
        fresh = stack.activated_address("fresh")
        found = await stack.stub.EstimateTransfer(estimate_request(stack, fresh))
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stack.stub.Transfer(stack.transfer_request(fresh, 1_000_000))
        sent = (await stack.stub.Transfer(stack.transfer_request(stack.activated_address(usdt=1), 1_000_000))).transfer

        assert list(found.warnings) == ["FEE_LIMIT_CAP_TOO_LOW"]
        assert found.suggested_fee_limit_sun == found.fee_limit_cap_sun == 10_000_000
        assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_reason(raised.value) == "FEE_LIMIT_CAP_TOO_LOW"
        assert sent.fee_limit_sun <= 10_000_000
        assert stack.settle() == (sent.txid,)

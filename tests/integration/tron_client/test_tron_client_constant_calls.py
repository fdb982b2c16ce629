"""TriggerConstantContract over real gRPC against devnet: a view's return value in the view asked for, a revert as
FAILED_PRECONDITION, bad input named."""

from __future__ import annotations

import grpc
import pytest

from fixtures.devnet import FUNDED_USDT_UNITS
from fixtures.rpc_errors import error_reason, field_violations
from fixtures.transactions import signed
from integration.tron_client.tron_client_kit import broadcast_request
from lucid.tron.v1 import common_pb2
from lucid.tron.v1 import tron_client_pb2 as pb
from lucid_tron.chain import decode_uint256, encode_address, encode_uint256, trc20_transfer

HEAD, SOLIDIFIED = common_pb2.FINALITY_HEAD, common_pb2.FINALITY_SOLIDIFIED


def balance_of(devnet, address: str, **fields) -> pb.TriggerConstantContractRequest:
    return pb.TriggerConstantContractRequest(
        contract_address=devnet.usdt_address, function_selector="balanceOf(address)",
        parameter=encode_address(address), **fields,
    )


async def test_balance_of_answers_the_usdt_balance_as_an_abi_word(tron_client, devnet, devnet_accounts):
    found = await tron_client.stub.TriggerConstantContract(balance_of(devnet, devnet_accounts[0].address))

    assert decode_uint256(found.result[:32]) == FUNDED_USDT_UNITS
    assert found.energy_used > 0


async def test_the_solidified_view_does_not_see_a_transfer_at_head_yet(tron_client, devnet, devnet_accounts):
    payer, newcomer = devnet_accounts[1], devnet_accounts[0].address
    tx = signed(devnet, payer.key, trc20_transfer(payer.address, devnet.usdt_address, newcomer, 7), fee_limit_sun=30_000_000)
    await tron_client.stub.BroadcastTransaction(broadcast_request(tx))
    devnet.produce_block()

    head = await tron_client.stub.TriggerConstantContract(balance_of(devnet, newcomer, finality=HEAD))
    solid = await tron_client.stub.TriggerConstantContract(balance_of(devnet, newcomer, finality=SOLIDIFIED))

    assert decode_uint256(head.result) == FUNDED_USDT_UNITS + 7
    assert decode_uint256(solid.result) == FUNDED_USDT_UNITS


async def test_a_reverting_view_is_failed_precondition_contract_reverted(tron_client, devnet, devnet_accounts):
    request = pb.TriggerConstantContractRequest(
        owner_address=devnet_accounts[0].address, contract_address=devnet.usdt_address,
        function_selector="transfer(address,uint256)",
        parameter=encode_address(devnet_accounts[1].address) + encode_uint256(10**18),
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await tron_client.stub.TriggerConstantContract(request)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "CONTRACT_REVERTED"


async def test_bad_input_names_each_field(tron_client):
    request = pb.TriggerConstantContractRequest(
        owner_address="nope", contract_address="", function_selector="balanceOf (address)", parameter=b"\x01",
        finality=9,
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await tron_client.stub.TriggerConstantContract(request)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(raised.value)) == {
        "owner_address", "contract_address", "function_selector", "parameter", "finality",
    }

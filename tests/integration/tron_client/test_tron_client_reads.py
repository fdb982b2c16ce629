"""tron-client's reads over real gRPC against devnet: each RPC's answer, in the view asked for."""

from __future__ import annotations

import hashlib

import grpc
import pytest

from fixtures.rpc_errors import error_reason
from fixtures.transactions import signed
from integration.tron_client.tron_client_kit import broadcast_request
from lucid.tron.v1 import common_pb2
from lucid.tron.v1 import tron_client_pb2 as pb
from lucid_tron.chain import (
    PrivateKey,
    delegate_resource,
    encode_address,
    encode_uint256,
    freeze_balance_v2,
    transfer_contract,
    trc20_transfer,
    unfreeze_balance_v2,
)
from lucid_tron.devnet import TRC20_ENERGY
from fixtures.devnet import FUNDED_TRX_SUN

HEAD, SOLIDIFIED = common_pb2.FINALITY_HEAD, common_pb2.FINALITY_SOLIDIFIED
STRANGER = PrivateKey(hashlib.sha256(b"never activated").digest()).address


async def test_get_now_block_answers_the_head_or_the_solidified_head(tron_client, devnet):
    devnet.produce_blocks(25)

    head = (await tron_client.stub.GetNowBlock(pb.GetNowBlockRequest(finality=HEAD))).block
    solid = (await tron_client.stub.GetNowBlock(pb.GetNowBlockRequest(finality=SOLIDIFIED))).block
    default = (await tron_client.stub.GetNowBlock(pb.GetNowBlockRequest())).block

    assert (head.number, head.solidified) == (25, False)
    assert (solid.number, solid.solidified) == (25 - 19, True)
    assert default == solid
    assert head.block_id == devnet.chain.head.id.hex()
    assert head.parent_block_id == devnet.chain.blocks[24].id.hex()
    assert head.block_time.ToMilliseconds() == devnet.chain.head.timestamp


async def test_get_block_lists_the_txids_and_says_whether_the_block_is_final(tron_client, devnet, devnet_accounts):
    payer, payee = devnet_accounts[0], devnet_accounts[1]
    tx = signed(devnet, payer.key, transfer_contract(payer.address, payee.address, 1_000_000))
    await tron_client.stub.BroadcastTransaction(broadcast_request(tx))
    block = devnet.produce_block()

    recent = await tron_client.stub.GetBlock(pb.GetBlockRequest(block_number=block.number))
    devnet.solidify()
    final = await tron_client.stub.GetBlock(pb.GetBlockRequest(block_number=block.number))

    assert list(recent.txids) == list(block.txids) and recent.header.transaction_count == 1
    assert (recent.header.solidified, final.header.solidified) == (False, True)
    assert recent.header.block_id == block.id


async def test_get_block_beyond_the_head_is_not_found(tron_client, devnet):
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await tron_client.stub.GetBlock(pb.GetBlockRequest(block_number=devnet.head_number + 1))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_get_account_answers_a_funded_account(tron_client, devnet_accounts):
    account = (await tron_client.stub.GetAccount(pb.GetAccountRequest(address=devnet_accounts[0].address))).account

    assert (account.activated, account.balance_sun) == (True, FUNDED_TRX_SUN)
    assert account.address == devnet_accounts[0].address


async def test_get_account_of_a_never_activated_address_is_an_answer_not_not_found(tron_client):
    account = (await tron_client.stub.GetAccount(pb.GetAccountRequest(address=STRANGER, finality=HEAD))).account

    assert (account.activated, account.balance_sun, account.HasField("create_time")) == (False, 0, False)


async def test_get_account_sees_a_payment_at_head_before_the_solidified_view_does(tron_client, devnet, devnet_accounts):
    payer = devnet_accounts[0]
    tx = signed(devnet, payer.key, transfer_contract(payer.address, STRANGER, 2_000_000))
    await tron_client.stub.BroadcastTransaction(broadcast_request(tx))
    devnet.produce_block()

    at_head = (await tron_client.stub.GetAccount(pb.GetAccountRequest(address=STRANGER, finality=HEAD))).account
    solid = (await tron_client.stub.GetAccount(pb.GetAccountRequest(address=STRANGER, finality=SOLIDIFIED))).account

    assert (at_head.activated, at_head.balance_sun) == (True, 2_000_000)
    assert (solid.activated, solid.balance_sun) == (False, 0)


async def test_get_account_resources_answers_limits_and_network_totals(tron_client, devnet_accounts):
    request = pb.GetAccountResourcesRequest(address=devnet_accounts[0].address)
    resources = (await tron_client.stub.GetAccountResources(request)).resources

    assert resources.address == devnet_accounts[0].address
    assert resources.free_bandwidth_limit == 600
    assert resources.total_energy_limit == 90_000_000_000 and resources.total_energy_weight > 0
    assert resources.total_bandwidth_limit > 0 and resources.staked_for_energy_sun == 0


async def test_get_stake_answers_unstakes_delegations_and_what_can_be_delegated(tron_client, devnet, devnet_accounts):
    owner, receiver = devnet_accounts[0], devnet_accounts[1]
    for contract in (
        freeze_balance_v2(owner.address, 100_000_000, "ENERGY"),
        unfreeze_balance_v2(owner.address, 30_000_000, "ENERGY"),
        delegate_resource(owner.address, receiver.address, 20_000_000, "ENERGY", lock=True, lock_period=100),
    ):
        await tron_client.stub.BroadcastTransaction(broadcast_request(signed(devnet, owner.key, contract)))
        devnet.produce_block()

    found = await tron_client.stub.GetStake(pb.GetStakeRequest(address=owner.address))

    (unfreeze,) = found.unfreezes
    assert (unfreeze.resource, unfreeze.amount_sun) == (common_pb2.RESOURCE_ENERGY, 30_000_000)
    assert unfreeze.withdrawable_time.ToMilliseconds() > devnet.chain.head.timestamp
    (delegation,) = found.delegations
    assert (delegation.receiver_address, delegation.resource, delegation.amount_sun) == (
        receiver.address, common_pb2.RESOURCE_ENERGY, 20_000_000
    )
    assert delegation.lock_expire_time.ToMilliseconds() > devnet.chain.head.timestamp
    assert (found.delegatable_energy_sun, found.delegatable_bandwidth_sun, found.withdrawable_sun) == (50_000_000, 0, 0)


async def test_get_stake_of_a_never_activated_address_is_empty(tron_client):
    found = await tron_client.stub.GetStake(pb.GetStakeRequest(address=STRANGER))

    assert found == pb.GetStakeResponse()


async def test_get_transaction_answers_the_signed_bytes_and_the_result(tron_client, devnet, devnet_accounts):
    payer, payee = devnet_accounts[0], devnet_accounts[1]
    transfer = trc20_transfer(payer.address, devnet.usdt_address, payee.address, 1_500_000)
    tx = signed(devnet, payer.key, transfer, fee_limit_sun=100_000_000)
    sent = await tron_client.stub.BroadcastTransaction(broadcast_request(tx))
    devnet.produce_block()

    found = await tron_client.stub.GetTransaction(pb.GetTransactionRequest(txid=sent.txid, finality=HEAD))

    assert found.txid == sent.txid == hashlib.sha256(found.raw_data).hexdigest()
    assert found.raw_data == tx.raw_data.SerializeToString() and list(found.signatures) == list(tx.signature)
    assert (found.contract_type, found.contract_result) == ("TriggerSmartContract", "SUCCESS")
    assert found.owner_address == payer.address
    assert found.expiration_time.ToMilliseconds() == tx.raw_data.expiration


async def test_get_transaction_not_yet_solidified_is_not_found_in_the_default_view(
    tron_client, devnet, devnet_accounts
):
    payer = devnet_accounts[0]
    tx = signed(devnet, payer.key, transfer_contract(payer.address, STRANGER, 1))
    sent = await tron_client.stub.BroadcastTransaction(broadcast_request(tx))
    devnet.produce_block()

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await tron_client.stub.GetTransaction(pb.GetTransactionRequest(txid=sent.txid))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_get_transaction_info_is_not_found_until_solidified_then_answers_the_receipt(
    tron_client, devnet, devnet_accounts
):
    payer, payee = devnet_accounts[0], devnet_accounts[1]
    transfer = trc20_transfer(payer.address, devnet.usdt_address, payee.address, 7)
    tx = signed(devnet, payer.key, transfer, fee_limit_sun=100_000_000)
    sent = await tron_client.stub.BroadcastTransaction(broadcast_request(tx))
    block = devnet.produce_block()

    head_request = pb.GetTransactionInfoRequest(txid=sent.txid, finality=HEAD)
    at_head = (await tron_client.stub.GetTransactionInfo(head_request)).receipt
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await tron_client.stub.GetTransactionInfo(pb.GetTransactionInfoRequest(txid=sent.txid))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND and error_reason(raised.value) == "NOT_FOUND"
    devnet.solidify()
    solid = (await tron_client.stub.GetTransactionInfo(pb.GetTransactionInfoRequest(txid=sent.txid))).receipt

    assert (at_head.solidified, solid.solidified) == (False, True)
    assert solid.result == common_pb2.EXECUTION_RESULT_SUCCESS and solid.result_code == "SUCCESS"
    assert solid.block_number == block.number and solid.contract_address == devnet.usdt_address
    assert solid.energy_used > 0 and solid.fee_sun == solid.energy_fee_sun + solid.bandwidth_fee_sun
    (log,) = solid.logs
    assert log.contract_address == devnet.usdt_address and log.topics[1] == encode_address(payer.address)


async def test_get_chain_parameters_answers_typed_prices_and_the_raw_list(tron_client):
    found = await tron_client.stub.GetChainParameters(pb.GetChainParametersRequest())

    assert (found.energy_price_sun, found.bandwidth_price_sun, found.memo_fee_sun) == (100, 1_000, 1_000_000)
    assert found.create_account_fee_sun == 1_100_000 and found.max_fee_limit_sun == 15_000_000_000
    assert {p.key: p.value for p in found.parameters}["getEnergyFee"] == 100


async def test_estimate_energy_prices_a_usdt_transfer(tron_client, devnet, devnet_accounts):
    payer, payee = devnet_accounts[0], devnet_accounts[1]  # the payee already holds USDT

    found = await tron_client.stub.EstimateEnergy(
        pb.EstimateEnergyRequest(
            owner_address=payer.address,
            contract_address=devnet.usdt_address,
            function_selector="transfer(address,uint256)",
            parameter=encode_address(payee.address) + encode_uint256(1),
        )
    )

    assert found.energy_required == TRC20_ENERGY.TRANSFER_TO_HOLDER
    assert found.burn_fee_sun == found.energy_required * 100


async def test_estimate_energy_of_a_call_that_would_revert_is_failed_precondition_with_trons_code(
    tron_client, devnet, devnet_accounts
):
    payer, payee = devnet_accounts[0], devnet_accounts[1]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await tron_client.stub.EstimateEnergy(
            pb.EstimateEnergyRequest(
                owner_address=payer.address,
                contract_address=devnet.usdt_address,
                function_selector="transfer(address,uint256)",
                parameter=encode_address(payee.address) + encode_uint256(10**18),
            )
        )
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "CONTRACT_EXE_ERROR"

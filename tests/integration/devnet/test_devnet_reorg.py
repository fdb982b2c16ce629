"""Reorgs replace unsolidified blocks; their transactions are requeued (or, if asked, dropped); solidified data never
changes."""

from __future__ import annotations

import pytest
from fixtures.transactions import signed_json

from lucid_tron.chain import transfer_contract
from lucid_tron.devnet import ReorgError


async def land(devnet, http, tx_json: dict) -> int:
    answer = await http.post(devnet, "/wallet/broadcasttransaction", tx_json)
    assert answer.get("result") is True, answer
    return devnet.produce_block().number


async def test_a_dropping_reorg_drops_the_transaction_of_an_unsolidified_block(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000))
    number = await land(devnet, devnet_http, tx)
    devnet.produce_blocks(2)
    lookup = {"value": tx["txID"]}
    assert await devnet_http.post(devnet, "/wallet/gettransactioninfobyid", lookup) != {}

    taken_out = devnet.reorg(3, requeue=False)

    assert taken_out == [tx["txID"]]
    assert await devnet_http.post(devnet, "/wallet/gettransactioninfobyid", lookup) == {}
    assert await devnet_http.post(devnet, "/wallet/gettransactionbyid", lookup) == {}
    assert devnet.trx_balance(receiver.address) == 10_000_000_000
    replaced = await devnet_http.post(devnet, "/wallet/getblockbynum", {"num": number})
    assert "transactions" not in replaced
    devnet.produce_block()
    assert await devnet_http.post(devnet, "/wallet/gettransactioninfobyid", lookup) == {}


async def test_a_reorg_keeps_the_head_number_and_changes_the_replaced_block_ids(devnet, devnet_http):
    devnet.produce_blocks(30)
    before = [devnet.chain.blocks[n].id for n in range(31)]

    devnet.reorg(5)

    after = [devnet.chain.blocks[n].id for n in range(31)]
    assert devnet.head_number == 30
    assert after[:26] == before[:26]
    assert all(a != b for a, b in zip(after[26:], before[26:]))
    assert devnet.chain.blocks[26].header.parent_hash == after[25]


async def test_a_reorg_never_touches_solidified_blocks(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000))
    await land(devnet, devnet_http, tx)
    devnet.solidify()
    solid_block = await devnet_http.post(devnet, "/walletsolidity/getnowblock")
    solid_info = await devnet_http.post(devnet, "/walletsolidity/gettransactioninfobyid", {"value": tx["txID"]})

    with pytest.raises(ReorgError):
        devnet.reorg(20)
    devnet.reorg(19)

    assert await devnet_http.post(devnet, "/walletsolidity/getnowblock") == solid_block
    assert await devnet_http.post(devnet, "/walletsolidity/gettransactioninfobyid", {"value": tx["txID"]}) == solid_info
    assert await devnet_http.post(devnet, "/wallet/gettransactioninfobyid", {"value": tx["txID"]}) == solid_info


async def test_a_dropped_transaction_can_be_broadcast_again(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000))
    await land(devnet, devnet_http, tx)
    devnet.reorg(1, requeue=False)

    again = await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)

    assert again == {"result": True, "txid": tx["txID"]}


async def test_by_default_a_reorg_requeues_its_transactions_into_the_next_block(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000))
    first_block = await land(devnet, devnet_http, tx)

    devnet.reorg(1)
    pending_rebroadcast = await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)
    block = devnet.produce_block()

    assert pending_rebroadcast["code"] == "DUP_TRANSACTION_ERROR"
    assert block.txids == (tx["txID"],) and block.number == first_block + 1
    info = await devnet_http.post(devnet, "/wallet/gettransactioninfobyid", {"value": tx["txID"]})
    assert info["blockNumber"] == block.number


async def test_the_admin_api_reorgs_and_refuses_a_depth_into_solidified_blocks(devnet, devnet_http):
    devnet.produce_blocks(25)

    done = await devnet_http.post(devnet, "/devnet/reorg", {"depth": 2})
    status, refused = await devnet_http.post_status(devnet, "/devnet/reorg", {"depth": 20})

    assert done == {"transactions": [], "requeued": True, "head": 25, "solidified": 6}
    assert status == 400 and "between 1 and 19" in refused["Error"]


async def test_a_transaction_referring_to_a_replaced_block_fails_tapos(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    devnet.produce_blocks(3)
    stale = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000))

    devnet.reorg(1)
    answer = await devnet_http.post(devnet, "/wallet/broadcasttransaction", stale)

    assert answer["code"] == "TAPOS_ERROR"


async def test_funding_survives_a_reorg(devnet, devnet_accounts):
    devnet.produce_blocks(2)
    devnet.fund(devnet_accounts[2].address, trx_sun=5, usdt_units=7)

    devnet.reorg(2)

    assert devnet.trx_balance(devnet_accounts[2].address) == 10_000_000_005
    assert devnet.usdt_balance(devnet_accounts[2].address) == 1_000_000_007


async def test_a_devnet_configured_to_drop_forgets_the_transactions_of_a_reorg(start_devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    async with start_devnet(block_interval=0, reorg_requeue=False) as devnet:
        tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000))
        await land(devnet, devnet_http, tx)

        answer = await devnet_http.post(devnet, "/devnet/reorg", {"depth": 1})
        block = devnet.produce_block()

        assert answer["requeued"] is False and answer["transactions"] == [tx["txID"]]
        assert block.txids == ()
        assert devnet.trx_balance(receiver.address) == 10_000_000_000

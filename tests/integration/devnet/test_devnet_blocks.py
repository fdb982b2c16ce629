"""Blocks: ids as TRON computes them, the head and a solidified head 19 blocks behind, block queries."""

from __future__ import annotations

import asyncio
import hashlib

from fixtures.devnet import funded_accounts
from fixtures.transactions import signed_json

from lucid_tron.chain import recover_address, to_base58, transfer_contract
from lucid_tron.devnet import Devnet, DevnetConfig, FundedAccount


async def test_a_block_id_is_the_number_then_the_header_hash(devnet):
    block = devnet.chain.blocks[devnet.produce_block().number]

    header_hash = hashlib.sha256(block.header.raw_bytes()).digest()
    assert block.id == (1).to_bytes(8, "big") + header_hash[8:]


async def test_each_block_names_its_parent_and_is_signed_by_the_witness(devnet, devnet_http):
    devnet.produce_blocks(2)

    first = await devnet_http.post(devnet, "/wallet/getblockbynum", {"num": 1})
    second = await devnet_http.post(devnet, "/wallet/getblockbynum", {"num": 2, "visible": True})

    assert second["block_header"]["raw_data"]["parentHash"] == first["blockID"]
    block = devnet.chain.blocks[2]
    signer = recover_address(hashlib.sha256(block.header.raw_bytes()).digest(), block.witness_signature)
    assert signer == to_base58(devnet.chain.witness_address) == second["block_header"]["raw_data"]["witness_address"]


async def test_the_solidified_head_is_19_blocks_behind_the_head(devnet, devnet_http):
    devnet.produce_blocks(25)

    head = await devnet_http.post(devnet, "/wallet/getnowblock")
    solid = await devnet_http.post(devnet, "/walletsolidity/getnowblock")
    node = await devnet_http.post(devnet, "/wallet/getnodeinfo")

    assert head["block_header"]["raw_data"]["number"] == 25
    assert solid["block_header"]["raw_data"]["number"] == 6
    assert node["solidityBlock"] == f"Num:6,ID:{solid['blockID']}"
    assert node["block"] == f"Num:25,ID:{head['blockID']}"


async def test_a_receipt_is_solidified_only_after_19_more_blocks(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000))
    await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)
    devnet.produce_block()
    lookup = {"value": tx["txID"]}

    devnet.produce_blocks(18)
    before = await devnet_http.post(devnet, "/walletsolidity/gettransactioninfobyid", lookup)
    solid_tx_before = await devnet_http.post(devnet, "/walletsolidity/gettransactionbyid", lookup)
    devnet.produce_block()
    after = await devnet_http.post(devnet, "/walletsolidity/gettransactioninfobyid", lookup)

    assert (before, solid_tx_before) == ({}, {})
    assert after == await devnet_http.post(devnet, "/wallet/gettransactioninfobyid", lookup)
    assert after["blockNumber"] == 1


async def test_solidified_account_state_lags_the_head(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000))
    await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)
    devnet.produce_block()
    query = {"address": receiver.address, "visible": True}

    head_view = await devnet_http.post(devnet, "/wallet/getaccount", query)
    solid_view = await devnet_http.post(devnet, "/walletsolidity/getaccount", query)

    assert (head_view["balance"], solid_view["balance"]) == (10_001_000_000, 10_000_000_000)


async def test_the_wallet_view_includes_pending_transactions(devnet, devnet_http, devnet_accounts):
    # As on a java-tron full node: a broadcast transaction is applied to the state /wallet/ reads.
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000))
    await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)

    account = await devnet_http.post(devnet, "/wallet/getaccount", {"address": receiver.address, "visible": True})

    assert account["balance"] == 10_001_000_000


async def test_blocks_come_on_their_own_at_the_interval(start_devnet):
    async with start_devnet(block_interval=0.05) as running:
        await asyncio.sleep(0.5)
        assert running.head_number >= 3


async def test_getblockbylimitnext_returns_the_range_end_exclusive(devnet, devnet_http):
    devnet.produce_blocks(5)

    answer = await devnet_http.post(devnet, "/wallet/getblockbylimitnext", {"startNum": 2, "endNum": 5})

    assert [b["block_header"]["raw_data"]["number"] for b in answer["block"]] == [2, 3, 4]


async def test_getblock_without_detail_leaves_out_the_transactions(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    await devnet_http.post(
        devnet, "/wallet/broadcasttransaction",
        signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, 1_000_000)),
    )
    block_id = devnet.produce_block().id

    brief = await devnet_http.post(devnet, "/wallet/getblock", {"id_or_num": "1"})
    detailed = await devnet_http.post(devnet, "/wallet/getblock", {"id_or_num": block_id, "detail": True})

    assert "transactions" not in brief
    assert len(detailed["transactions"]) == 1
    assert brief["blockID"] == detailed["blockID"] == block_id


async def test_a_block_beyond_the_head_is_empty(devnet, devnet_http):
    assert await devnet_http.post(devnet, "/wallet/getblockbynum", {"num": 5}) == {}


async def test_gettransactioninfobyblocknum_lists_every_receipt_of_the_block(devnet, devnet_http, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    txids = []
    for amount in (1_000_000, 2_000_000):
        tx = signed_json(devnet, sender.key, transfer_contract(sender.address, receiver.address, amount))
        await devnet_http.post(devnet, "/wallet/broadcasttransaction", tx)
        txids.append(tx["txID"])
    number = devnet.produce_block().number

    receipts = await devnet_http.post(devnet, "/wallet/gettransactioninfobyblocknum", {"num": number})

    assert [r["id"] for r in receipts] == txids


async def test_the_same_config_gives_the_same_genesis_and_usdt_address():
    one = Devnet(DevnetConfig(block_interval=0, funded=funded_accounts(), seed="s"))
    two = Devnet(DevnetConfig(block_interval=0, funded=funded_accounts(), seed="s"))
    other_funding = Devnet(DevnetConfig(block_interval=0, funded=funded_accounts()[:1], seed="s"))
    other_seed = Devnet(DevnetConfig(block_interval=0, funded=funded_accounts(), seed="t"))

    assert (one.genesis_block_id, one.usdt_address) == (two.genesis_block_id, two.usdt_address)
    assert other_funding.genesis_block_id != one.genesis_block_id
    assert other_seed.usdt_address != one.usdt_address


async def test_a_configured_usdt_address_is_used(devnet_accounts):
    mainnet_usdt = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
    network = Devnet(DevnetConfig(block_interval=0, usdt_address=mainnet_usdt,
                                  funded=(FundedAccount(devnet_accounts[0].address, 0, 5),)))

    assert network.usdt_address == mainnet_usdt
    assert network.usdt_balance(devnet_accounts[0].address) == 5


async def test_the_chain_id_is_the_tail_of_the_genesis_block_id(devnet):
    assert devnet.chain_id == int(devnet.genesis_block_id[-8:], 16)

"""tronpy 0.6.2, unmodified, runs its normal flows against devnet (blocks every 0.1 s)."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
from tronpy import AsyncTron
from tronpy.async_tron import AsyncTransactionRet
from tronpy.exceptions import BadSignature, TvmError
from tronpy.keys import PrivateKey as TronpyKey
from tronpy.providers.async_http import AsyncHTTPProvider

from lucid_tron.chain import PrivateKey

POLL = {"timeout": 15, "interval": 0.05}


def tronpy_key(key: PrivateKey) -> TronpyKey:
    return TronpyKey(key.to_bytes())


def stranger(name: str) -> str:
    """An address that has never been funded."""
    return PrivateKey(hashlib.sha256(f"stranger {name}".encode()).digest()).address


@pytest.fixture
async def chain(start_devnet):
    async with start_devnet(block_interval=0.1, solidification_lag=3) as running:
        yield running


@pytest.fixture
async def client(chain):
    # No "trongrid" in devnet's URL, so tronpy sends no API key of its own (notes: tronpy pitfalls).
    assert "trongrid" not in chain.url
    tron = AsyncTron(AsyncHTTPProvider(chain.url, api_key=None))
    yield tron
    await tron.close()


async def test_tronpy_reads_the_funded_trx_balance(client, devnet_accounts):
    assert await client.get_account_balance(devnet_accounts[0].address) == Decimal(10_000)


async def test_tronpy_transfers_trx_and_waits_for_the_receipt(client, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    txn = await client.trx.transfer(sender.address, receiver.address, 2_500_000).build()
    sent = await txn.sign(tronpy_key(sender.key)).broadcast()

    receipt = await sent.wait(**POLL)

    assert receipt["id"] == sent.txid
    assert receipt["blockNumber"] >= 1
    assert receipt["receipt"]["net_usage"] > 0  # paid with the free daily bandwidth, no fee
    assert "fee" not in receipt
    assert await client.get_account_balance(receiver.address) == Decimal("10002.5")
    assert await client.get_account_balance(sender.address) == Decimal("9997.5")


async def test_tronpy_transfer_to_a_new_account_pays_the_activation_fee(client, devnet_accounts):
    sender, fresh = devnet_accounts[0], stranger("activation")
    txn = await client.trx.transfer(sender.address, fresh, 1_000_000).build()
    receipt = await (await txn.sign(tronpy_key(sender.key)).broadcast()).wait(**POLL)

    assert receipt["fee"] == 1_100_000  # 1 TRX system-contract fee + 0.1 TRX for the new account's bandwidth
    assert await client.get_account_balance(fresh) == Decimal(1)


async def test_tronpy_transfers_usdt_through_the_contract_object(client, chain, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    usdt = await client.get_contract(chain.usdt_address)
    builder = await usdt.functions.transfer(receiver.address, 7_000_000)
    txn = await builder.with_owner(sender.address).fee_limit(20_000_000).build()
    sent = await txn.sign(tronpy_key(sender.key)).broadcast()

    # Mainnet USDT's transfer returns false: tronpy decodes that as False; success is the receipt and the log.
    assert await sent.result(**POLL) is False
    receipt = await sent.wait(**POLL)
    assert receipt["receipt"]["result"] == "SUCCESS"
    assert receipt["receipt"]["energy_usage_total"] == 64_285  # the receiver already holds USDT
    assert [event["args"]["value"] for event in usdt.events.Transfer.process_receipt(receipt)] == [7_000_000]
    assert await usdt.functions.balanceOf(receiver.address) == 1_007_000_000
    assert await usdt.functions.balanceOf(sender.address) == 993_000_000


async def test_tronpy_reads_the_usdt_metadata(client, chain):
    usdt = await client.get_contract(chain.usdt_address)
    assert (await usdt.functions.symbol(), await usdt.functions.decimals(), await usdt.functions.name()) == (
        "USDT",
        6,
        "Tether USD",
    )


async def test_tronpy_sees_a_revert_when_the_usdt_balance_is_short(client, chain, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    usdt = await client.get_contract(chain.usdt_address)
    builder = await usdt.functions.transfer(receiver.address, 10**12)
    txn = await builder.with_owner(sender.address).fee_limit(20_000_000).build()
    sent = await txn.sign(tronpy_key(sender.key)).broadcast()

    with pytest.raises(TvmError, match="REVERT opcode executed: transfer amount exceeds balance"):
        await sent.result(**POLL)
    assert await usdt.functions.balanceOf(sender.address) == 1_000_000_000


async def test_tronpy_default_fee_limit_runs_out_of_energy_for_a_new_usdt_holder(client, chain, devnet_accounts):
    # tronpy's default fee_limit (10 TRX) buys 100,000 energy; a first transfer to an address needs 130,285.
    sender = devnet_accounts[0]
    usdt = await client.get_contract(chain.usdt_address)
    builder = await usdt.functions.transfer(stranger("new holder"), 1_000_000)
    sent = await (await builder.with_owner(sender.address).build()).sign(tronpy_key(sender.key)).broadcast()

    receipt = await sent.wait(**POLL)
    assert receipt["receipt"]["result"] == "OUT_OF_ENERGY"
    assert receipt["result"] == "FAILED"
    assert receipt["receipt"]["energy_fee"] == 10_000_000
    assert await usdt.functions.balanceOf(sender.address) == 1_000_000_000


async def test_tronpy_estimates_the_energy_of_a_usdt_transfer(client, chain, devnet_accounts):
    usdt = await client.get_contract(chain.usdt_address)
    parameter = usdt.functions.transfer._prepare_parameter(stranger("estimate"), 1)
    energy = await client.get_estimated_energy(
        devnet_accounts[0].address, chain.usdt_address, "transfer(address,uint256)", parameter
    )
    assert energy == 130_285


async def test_tronpy_waits_for_a_solidified_receipt(client, chain, devnet_accounts):
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    txn = await client.trx.transfer(sender.address, receiver.address, 1_000_000).build()
    sent = await txn.sign(tronpy_key(sender.key)).broadcast()

    receipt = await sent.wait(solid=True, **POLL)

    assert receipt["blockNumber"] <= await client.get_latest_solid_block_number()


async def test_tronpy_reports_a_signature_by_another_key(client, devnet_accounts):
    sender, other = devnet_accounts[0], devnet_accounts[1]
    txn = await client.trx.transfer(sender.address, other.address, 1_000_000).build()
    txn.set_signature([tronpy_key(other.key).sign_msg_hash(bytes.fromhex(txn.txid)).hex()])

    with pytest.raises(BadSignature, match="is signed by .* but it is not contained of permission"):
        await txn.broadcast()


async def test_tronpy_reads_account_resources_after_staking(client, devnet_accounts):
    owner = devnet_accounts[2]
    txn = await client.trx.freeze_balance(owner.address, 1_000_000_000, "ENERGY").build()
    await (await txn.sign(tronpy_key(owner.key)).broadcast()).wait(**POLL)

    resource = await client.get_account_resource(owner.address)
    # staked TRX * TotalEnergyLimit / TotalEnergyWeight, the weight counting the rest of the network too
    assert resource["EnergyLimit"] == 1_000 * 90_000_000_000 // (9_000_000_000 + 1_000)
    assert await client.get_energy(owner.address) == resource["EnergyLimit"]
    assert await client.get_can_delegated_max_size(owner.address, "ENERGY") == {"max_size": 1_000_000_000}


async def test_a_transaction_tronpy_builds_offline_has_the_txid_devnet_computes(client, chain, devnet_accounts):
    # tronpy encodes raw_data with its own protobuf module here, so this checks devnet's encoding against it.
    sender, receiver = devnet_accounts[0], devnet_accounts[1]
    solid_id = await client.get_latest_solid_block_id()
    txn = await client.trx.transfer(sender.address, receiver.address, 1_000_000).build(
        offline=True, ref_block_id=solid_id
    )

    answer = await client.broadcast(txn.sign(tronpy_key(sender.key)))

    assert answer == {"result": True, "txid": txn.txid}
    assert (await AsyncTransactionRet(answer, client=client).wait(**POLL))["id"] == txn.txid

"""VerifyTrc20Transfer for real USDT transfers made on devnet: NOT_SOLIDIFIED before solidification, verified
after, each mismatch with its reason, and a final verdict served from the cache."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from fixtures.transactions import requests_to, signed
from integration.tron_relay.tron_relay_kit import start_relay
from lucid.tron.v1 import relay_pb2 as pb
from lucid_tron.chain import PrivateKey, transaction_to_json, transfer_contract, trc20_transfer
from fixtures.devnet import FUNDED_USDT_UNITS

AMOUNT = 12_345_678
NOT_FOUND_TTL_S = 0.05
F = pb.VerificationFailure


@pytest.fixture
async def relay(devnet, relay_redis_url):
    # "Not found yet" is cached briefly; short here so that a test need not wait a block interval.
    async with start_relay(devnet, relay_redis_url, not_found_ttl_s=NOT_FOUND_TTL_S) as running:
        yield running


async def send(devnet, devnet_http, key, contract, **options) -> str:
    tx = signed(devnet, key, contract, **options)
    answer = await devnet_http.post(devnet, "/wallet/broadcasttransaction", transaction_to_json(tx))
    assert answer.get("result") is True, answer
    return answer["txid"]


@pytest.fixture
async def usdt_payment(devnet, devnet_http, devnet_accounts) -> tuple[str, str, str]:
    """(txid, payer, merchant) of an AMOUNT USDT transfer, included at head, not solidified."""
    payer, merchant = devnet_accounts[0], devnet_accounts[1]
    txid = await send(
        devnet, devnet_http, payer.key, trc20_transfer(payer.address, devnet.usdt_address, merchant.address, AMOUNT),
        fee_limit_sun=100_000_000,
    )  # fmt: skip
    devnet.produce_block()
    return txid, payer.address, merchant.address


def expecting(devnet, txid: str, payer: str, merchant: str, **changes) -> pb.VerifyTrc20TransferRequest:
    fields = dict(
        txid=txid,
        contract_address=devnet.usdt_address,
        from_address=payer,
        to_address=merchant,
        amount_base_units=AMOUNT,
    )
    fields.update(changes)
    return pb.VerifyTrc20TransferRequest(**fields)


async def solidify(devnet) -> None:
    devnet.solidify()
    await asyncio.sleep(NOT_FOUND_TTL_S * 2)  # the cached "not solidified yet" runs out


async def test_a_usdt_transfer_is_not_solidified_at_first_and_verified_once_solidified(relay, devnet, usdt_payment):
    txid, payer, merchant = usdt_payment

    early = await relay.stub.VerifyTrc20Transfer(expecting(devnet, txid, payer, merchant))
    await solidify(devnet)
    final = await relay.stub.VerifyTrc20Transfer(expecting(devnet, txid, payer, merchant))

    assert (early.verified, early.failure) == (False, F.VERIFICATION_FAILURE_NOT_SOLIDIFIED)
    assert not early.HasField("matched_transfer") and [t.solidified for t in early.transfers] == [False]
    assert (final.verified, final.failure) == (True, F.VERIFICATION_FAILURE_UNSPECIFIED)
    matched = final.matched_transfer
    assert (matched.txid, matched.log_index, matched.contract_address) == (txid, 0, devnet.usdt_address)
    assert (matched.from_address, matched.to_address, matched.amount_base_units) == (payer, merchant, AMOUNT)
    assert matched.solidified and final.block_number == matched.block_number > 0
    assert devnet.usdt_balance(merchant, solidified=True) == FUNDED_USDT_UNITS + AMOUNT


async def test_any_sender_is_accepted_when_from_address_is_empty(relay, devnet, usdt_payment):
    txid, _, merchant = usdt_payment
    await solidify(devnet)
    answer = await relay.stub.VerifyTrc20Transfer(expecting(devnet, txid, "", merchant))
    assert answer.verified


@pytest.mark.parametrize(
    ("change", "failure"),
    [
        ({"amount_base_units": AMOUNT - 1}, F.VERIFICATION_FAILURE_WRONG_AMOUNT),
        ({"amount_base_units": AMOUNT + 1}, F.VERIFICATION_FAILURE_WRONG_AMOUNT),
        ({"to_address": "stranger"}, F.VERIFICATION_FAILURE_WRONG_TO),
        ({"from_address": "stranger"}, F.VERIFICATION_FAILURE_WRONG_FROM),
        ({"contract_address": "stranger"}, F.VERIFICATION_FAILURE_WRONG_CONTRACT),
    ],
)
async def test_each_mismatch_is_answered_as_data_with_its_reason(relay, devnet, usdt_payment, change, failure):
    txid, payer, merchant = usdt_payment
    stranger = PrivateKey(hashlib.sha256(b"stranger").digest()).address
    change = {key: stranger if value == "stranger" else value for key, value in change.items()}
    await solidify(devnet)

    answer = await relay.stub.VerifyTrc20Transfer(expecting(devnet, txid, payer, merchant, **change))

    assert (answer.verified, answer.failure) == (False, failure)
    assert [t.amount_base_units for t in answer.transfers] == [AMOUNT]  # what was actually paid, for diagnosis


async def test_an_unknown_txid_is_not_found(relay, devnet, devnet_accounts):
    answer = await relay.stub.VerifyTrc20Transfer(
        expecting(devnet, "ab" * 32, devnet_accounts[0].address, devnet_accounts[1].address)
    )
    assert (answer.verified, answer.failure, answer.block_number, len(answer.transfers)) == (
        False, F.VERIFICATION_FAILURE_NOT_FOUND, 0, 0
    )


async def test_a_reverted_transfer_is_failed(relay, devnet, devnet_http, devnet_accounts):
    payer, merchant = devnet_accounts[0], devnet_accounts[1]
    txid = await send(
        devnet, devnet_http, payer.key,
        trc20_transfer(payer.address, devnet.usdt_address, merchant.address, FUNDED_USDT_UNITS * 10),
        fee_limit_sun=100_000_000,
    )  # fmt: skip
    devnet.produce_block()
    await solidify(devnet)

    answer = await relay.stub.VerifyTrc20Transfer(expecting(devnet, txid, payer.address, merchant.address))

    assert (answer.verified, answer.failure) == (False, F.VERIFICATION_FAILURE_FAILED)


async def test_a_trx_transfer_has_no_transfer_log(relay, devnet, devnet_http, devnet_accounts):
    payer, merchant = devnet_accounts[0], devnet_accounts[1]
    txid = await send(devnet, devnet_http, payer.key, transfer_contract(payer.address, merchant.address, AMOUNT))
    devnet.produce_block()
    await solidify(devnet)

    answer = await relay.stub.VerifyTrc20Transfer(expecting(devnet, txid, payer.address, merchant.address))

    assert (answer.verified, answer.failure) == (False, F.VERIFICATION_FAILURE_NO_TRANSFER_LOG)


async def test_a_final_verdict_is_answered_from_the_cache_without_asking_trongrid(relay, devnet, usdt_payment):
    txid, payer, merchant = usdt_payment
    await solidify(devnet)
    await relay.stub.VerifyTrc20Transfer(expecting(devnet, txid, payer, merchant))
    requests = devnet.faults.add()  # counts every request

    again = await relay.stub.VerifyTrc20Transfer(expecting(devnet, txid, payer, merchant))
    other_amount = await relay.stub.VerifyTrc20Transfer(expecting(devnet, txid, payer, merchant, amount_base_units=1))

    assert again.verified and again.cache.from_cache and not again.cache.stale
    assert other_amount.failure == F.VERIFICATION_FAILURE_WRONG_AMOUNT and other_amount.cache.from_cache
    assert requests.matched == 0


async def test_a_final_verdict_is_still_answered_when_trongrid_is_down(relay, devnet, usdt_payment):
    txid, payer, merchant = usdt_payment
    await solidify(devnet)
    await relay.stub.VerifyTrc20Transfer(expecting(devnet, txid, payer, merchant))
    devnet.faults.add(status=503)

    answer = await relay.stub.VerifyTrc20Transfer(expecting(devnet, txid, payer, merchant), timeout=1)

    assert answer.verified and not answer.cache.stale  # final is never stale


async def test_verification_reads_the_solidified_receipt_first(devnet, relay_redis_url, usdt_payment):
    txid, payer, merchant = usdt_payment
    await solidify(devnet)
    async with start_relay(devnet, relay_redis_url) as relay:
        solid_reads = requests_to(devnet, "/walletsolidity/gettransactioninfobyid")
        head_reads = requests_to(devnet, "/wallet/gettransactioninfobyid")
        await relay.stub.VerifyTrc20Transfer(expecting(devnet, txid, payer, merchant))

    assert (solid_reads.matched, head_reads.matched) == (1, 0)

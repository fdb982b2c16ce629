"""Address poisoning on demand: zero-value and dust transfers to a victim from a lookalike of a counterparty."""

from __future__ import annotations

from lucid_tron.chain import decode_address

PATH = "/v1/accounts/{}/transactions/trc20"


async def history_of(devnet, http, address: str) -> list[dict]:
    _, page = await http.get_status(devnet, PATH.format(address))
    return page["data"]


async def test_the_lookalike_shares_the_counterpartys_first_and_last_characters(devnet, devnet_accounts):
    victim, counterparty = devnet_accounts[0].address, devnet_accounts[1].address

    done = devnet.poison(victim, counterparty, prefix=3, suffix=1)

    assert done.lookalike != counterparty
    assert done.lookalike[:3] == counterparty[:3] and done.lookalike[-1] == counterparty[-1]


async def test_poisoning_logs_a_zero_value_usdt_transfer_and_usdt_dust_from_the_lookalike(
    devnet, devnet_http, devnet_accounts
):
    victim, counterparty = devnet_accounts[0].address, devnet_accounts[1].address

    done = devnet.poison(victim, counterparty, dust_units=1)
    block = devnet.produce_block()

    assert block.txids == done.txids and len(done.txids) == 2
    entries = await history_of(devnet, devnet_http, victim)
    assert sorted((e["from"], e["to"], e["value"], e["token_info"]["address"]) for e in entries) == [
        (done.lookalike, victim, "0", devnet.usdt_address),
        (done.lookalike, victim, "1", devnet.usdt_address),
    ]
    assert devnet.usdt_balance(victim) == 1_000_000_001


async def test_the_zero_value_poisoning_needs_no_allowance_and_no_key_of_the_victim(
    devnet, devnet_http, devnet_accounts
):
    victim, counterparty = devnet_accounts[0].address, devnet_accounts[1].address

    done = devnet.poison(victim, counterparty, dust_units=0)
    devnet.produce_block()

    [txid] = done.txids
    info = await devnet_http.post(devnet, "/wallet/gettransactioninfobyid", {"value": txid})
    tx = await devnet_http.post(devnet, "/wallet/gettransactionbyid", {"value": txid, "visible": True})
    owner = tx["raw_data"]["contract"][0]["parameter"]["value"]["owner_address"]
    assert info["receipt"]["result"] == "SUCCESS"
    assert owner not in (victim, done.lookalike)
    assert info["log"][0]["address"] == decode_address(devnet.usdt_address)[1:].hex()


async def test_poisoning_can_send_lookalike_tokens_instead(devnet, devnet_http, devnet_accounts):
    victim, counterparty = devnet_accounts[0].address, devnet_accounts[1].address

    done = devnet.poison(victim, counterparty, zero_value=False, dust_units=0, fake_units=250_000_000)
    devnet.produce_block()

    [entry] = await history_of(devnet, devnet_http, victim)
    assert (entry["from"], entry["value"], entry["token_info"]["address"]) == (
        done.lookalike, "250000000", devnet.lookalike_address)
    assert entry["token_info"]["symbol"] == "USDT"
    assert devnet.usdt_balance(victim) == 1_000_000_000


async def test_the_admin_api_poisons_and_refuses_impossible_requests(devnet, devnet_http, devnet_accounts):
    victim, counterparty = devnet_accounts[0].address, devnet_accounts[1].address

    done = await devnet_http.post(devnet, "/devnet/poison", {"victim": victim, "counterparty": counterparty})
    too_long, refused = await devnet_http.post_status(
        devnet, "/devnet/poison", {"victim": victim, "counterparty": counterparty, "prefix": 4, "suffix": 2})
    bad_type, _ = await devnet_http.post_status(
        devnet, "/devnet/poison", {"victim": victim, "counterparty": counterparty, "dust_units": "1"})

    assert done["lookalike"][:2] == counterparty[:2] and len(done["transactions"]) == 2
    assert devnet.chain.pending_txids == [bytes.fromhex(t) for t in done["transactions"]]
    assert too_long == 400 and "prefix" in refused["Error"]
    assert bad_type == 400

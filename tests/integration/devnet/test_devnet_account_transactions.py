"""devnet's GET /v1/accounts/{address}/transactions answers as TronGrid does: the account's transactions with
blockNumber and block_timestamp, newest first, fingerprint paging, only_confirmed and only_to filters."""

from __future__ import annotations

import pytest

from fixtures.transactions import signed_json
from lucid_tron.chain import transfer_contract, trc20_transfer

PATH = "/v1/accounts/{}/transactions"


async def send(devnet, http, account, contract) -> str:
    tx = signed_json(devnet, account.key, contract, fee_limit_sun=50_000_000)
    assert (await http.post(devnet, "/wallet/broadcasttransaction", tx)).get("result") is True
    devnet.produce_block()
    return tx["txID"]


@pytest.fixture
async def transfers(devnet, devnet_http, devnet_accounts) -> list[str]:
    """Account 0 sends account 1 three TRX transfers (oldest first), then a USDT transfer; the TRX ones are then
    solidified, the USDT one is not."""
    sender, receiver = devnet_accounts[0], devnet_accounts[1].address
    txids = [await send(devnet, devnet_http, sender, transfer_contract(sender.address, receiver, n)) for n in (1, 2, 3)]
    devnet.solidify()
    txids.append(await send(devnet, devnet_http, sender,
                            trc20_transfer(sender.address, devnet.usdt_address, receiver, 5)))  # fmt: skip
    return txids


async def get(devnet, http, address: str, **params: str) -> dict:
    status, page = await http.get_status(devnet, PATH.format(address), params)
    assert status == 200, page
    return page


async def test_entries_are_transactions_with_their_block(devnet, devnet_http, devnet_accounts, transfers):
    page = await get(devnet, devnet_http, devnet_accounts[0].address, limit="1")

    [entry] = page["data"]
    assert page["success"] is True and entry["txID"] == transfers[-1]
    assert entry["raw_data"]["contract"][0]["type"] == "TriggerSmartContract" and entry["ret"]
    block = devnet.chain.blocks[-1]
    assert (entry["blockNumber"], entry["block_timestamp"]) == (block.number, block.timestamp)
    assert "fingerprint" in page["meta"]


async def test_fingerprint_paging_walks_the_received_trx_newest_first(devnet, devnet_http, devnet_accounts, transfers):
    seen, params = [], {"limit": "2", "only_to": "true"}
    while True:
        page = await get(devnet, devnet_http, devnet_accounts[1].address, **params)
        seen += [entry["txID"] for entry in page["data"]]
        if "fingerprint" not in page["meta"]:
            break
        params["fingerprint"] = page["meta"]["fingerprint"]

    assert seen == transfers[2::-1]  # the USDT call names the receiver only in its data: not listed for it


async def test_only_confirmed_leaves_out_unsolidified_blocks(devnet, devnet_http, devnet_accounts, transfers):
    page = await get(devnet, devnet_http, devnet_accounts[0].address, only_confirmed="true")

    assert [entry["txID"] for entry in page["data"]] == transfers[2::-1]

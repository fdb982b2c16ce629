"""Typed chain reads over `TronGridClient`: one call each, its answer parsed by `_parsing` into `_values`.

    header = await now_block(client, Finality.SOLIDIFIED)                 # /walletsolidity/getnowblock
    receipt = await transaction_info(client, txid, Finality.SOLIDIFIED)   # None: no receipt in that view (yet)

Every function raises what the client raises (`TronGridUnavailable` and subclasses, `TronGridNodeError`,
`DeadlineExceeded`); an answer whose shape we cannot use raises `TronGridBadResponse`, so a surprising node never
becomes an unexpected exception. "Not found" is a value (None), never an error: the caller decides what it means.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from ._client import TronGridClient
from ._parsing import (
    bad_response,
    json_object,
    parse_account,
    parse_account_resources,
    parse_block,
    parse_block_body,
    parse_block_receipts,
    parse_receipts,
    with_receipts,
    parse_chain_parameters,
    parse_constant_call,
    parse_energy_required,
    parse_receipt,
    parse_delegation_receivers,
    parse_stake,
    parse_token_transfer_page,
    parse_trx_history_page,
    parse_transaction,
)
from ._values import (
    Account,
    AccountResources,
    Block,
    BlockHeader,
    BlockReceipts,
    ChainParameters,
    ConstantCall,
    Finality,
    Receipt,
    HistoryPage,
    Stake,
    Transaction,
)

__all__ = [
    "account",
    "account_resources",
    "block",
    "block_bodies",
    "block_receipts",
    "block_with_receipts",
    "both",
    "chain_parameters",
    "constant_call",
    "estimate_energy",
    "now_block",
    "stake",
    "token_transfers",
    "transaction",
    "transaction_info",
]

A = TypeVar("A")
B = TypeVar("B")


def _view(client: TronGridClient, finality: Finality) -> Callable[..., Coroutine[Any, Any, Any]]:
    return client.solidity if finality is Finality.SOLIDIFIED else client.wallet


async def now_block(client: TronGridClient, finality: Finality) -> BlockHeader:
    """The newest block of the view (getnowblock)."""
    answer = json_object(await _view(client, finality)("getnowblock"), "getnowblock")
    if not answer:
        raise bad_response("getnowblock answered without a block")
    return parse_block(answer, solidified=finality is Finality.SOLIDIFIED).header


async def block(client: TronGridClient, number: int) -> Block | None:
    """Block `number` (header and txids), None beyond the head. The solidified view is asked first, so the header
    says whether the block is final; only a block it does not have yet costs a second request."""
    body = {"num": number}
    answer = json_object(await client.solidity("getblockbynum", body), "getblockbynum")
    if answer:
        return parse_block(answer, solidified=True)
    answer = json_object(await client.wallet("getblockbynum", body), "getblockbynum")
    return parse_block(answer, solidified=False) if answer else None


async def block_receipts(client: TronGridClient, number: int, finality: Finality) -> BlockReceipts | None:
    """Block `number` of the view with its TRX transfers and receipts (two calls at once), None when the view does
    not hold it yet."""
    view = _view(client, finality)
    body = {"num": number, "visible": True}
    block_answer, infos_answer = await both(
        view("getblockbynum", body), view("gettransactioninfobyblocknum", {"num": number})
    )
    answer = json_object(block_answer, "getblockbynum")
    if not answer:
        return None
    found = parse_block_receipts(answer, infos_answer, solidified=finality is Finality.SOLIDIFIED)
    # The two calls can reach two nodes of a load-balanced TronGrid, the second not holding the block yet: it answers
    # no receipts, which would hide every Transfer log of the block. A contract call always has a receipt, so one
    # missing means the view does not hold the whole block yet.
    return found if _complete(found) else None


async def block_bodies(client: TronGridClient, first: int, last: int, finality: Finality) -> list[BlockReceipts]:
    """Blocks first..last (at most 100) of the view with their TRX transfers and no receipts, in one request
    (getblockbylimitnext): the consecutive run from `first` the view holds, empty when it holds none of them.
    `needs_receipts` says whether `block_with_receipts` must complete a block before its token transfers are known."""
    answer = json_object(
        await _view(client, finality)("getblockbylimitnext", {"startNum": first, "endNum": last + 1, "visible": True}),
        "getblockbylimitnext",
    )
    solidified = finality is Finality.SOLIDIFIED
    entries = answer.get("block", [])
    if not isinstance(entries, list):
        raise bad_response("getblockbylimitnext answered a block list that is not a list")
    bodies = sorted(
        (parse_block_body(json_object(entry, "getblockbylimitnext.block[]"), solidified=solidified) for entry in entries),
        key=lambda body: body.block.header.number,
    )
    run: list[BlockReceipts] = []
    for body in bodies:
        if body.block.header.number != first + len(run):
            break  # a gap (or a block outside the range): only a consecutive run is of use
        run.append(body)
    return run


def needs_receipts(body: BlockReceipts) -> bool:
    """Whether the block holds a transaction other than a plain TRX transfer: only those can emit logs (a block of
    TRX transfers alone, or an empty one, has no token transfer to find)."""
    return len(body.native_transfers) < len(body.block.txids)


async def block_with_receipts(client: TronGridClient, body: BlockReceipts, finality: Finality) -> BlockReceipts | None:
    """`body` completed with its receipts (gettransactioninfobyblocknum: one request); None when the node that
    answered does not hold that very block (a receipt missing, or one of a transaction the block does not hold)."""
    number = body.block.header.number
    answer = await _view(client, finality)("gettransactioninfobyblocknum", {"num": number})
    found = with_receipts(body, parse_receipts(answer, number, solidified=finality is Finality.SOLIDIFIED))
    return found if _complete(found) else None


def _complete(found: BlockReceipts) -> bool:
    """Every transaction of the block has a receipt or is a TRX transfer, and every receipt is of the block's."""
    txids = set(found.block.txids)
    receipts = {receipt.txid for receipt in found.receipts}
    return receipts <= txids and (receipts | {native.txid for native in found.native_transfers}) >= txids


async def token_transfers(
    client: TronGridClient,
    address: str,
    contract_address: str,
    *,
    only_confirmed: bool,
    min_time_ms: int,
    max_time_ms: int,
    limit: int,
    fingerprint: str,
) -> HistoryPage:
    """One page of the address's history, newest first (TronGrid's v1 account history): the Transfer events of the
    token `contract_address`, or its TRX transfers when that is "". A TRX page may hold fewer than `limit` transfers
    with more to come, as the history also lists the account's other transactions."""
    params: dict[str, str | int] = {
        "only_confirmed": "true" if only_confirmed else "false",
        "min_timestamp": min_time_ms,
        "limit": limit,
        "order_by": "block_timestamp,desc",
    }
    if max_time_ms:
        params["max_timestamp"] = max_time_ms
    if fingerprint:
        params["fingerprint"] = fingerprint
    if not contract_address:
        return parse_trx_history_page(await client.get(f"/v1/accounts/{address}/transactions", params), address)
    params["contract_address"] = contract_address
    return parse_token_transfer_page(await client.get(f"/v1/accounts/{address}/transactions/trc20", params))


async def account(client: TronGridClient, address: str, finality: Finality) -> Account:
    """The account's TRX state; a never-activated address is an Account with activated=False."""
    body = {"address": address, "visible": True}
    return parse_account(json_object(await _view(client, finality)("getaccount", body), "getaccount"), address)


async def account_resources(client: TronGridClient, address: str) -> AccountResources:
    """Limits and usage (getaccountresource) with the stake behind them (getaccount), both at head, fetched
    concurrently."""
    body = {"address": address, "visible": True}
    resource_answer, account_answer = await both(
        client.wallet("getaccountresource", body), client.wallet("getaccount", body)
    )
    return parse_account_resources(resource_answer, account_answer, address)


async def stake(client: TronGridClient, address: str) -> Stake:
    """Unstakes, delegations made, what can still be delegated and what is withdrawable now, at head: the account
    and its delegation index first, then each receiver's delegations and the three amounts, concurrently."""
    body = {"address": address, "visible": True}
    account_answer, index = await both(
        client.wallet("getaccount", body),
        client.wallet("getdelegatedresourceaccountindexv2", {"value": address, "visible": True}),
    )
    receivers = parse_delegation_receivers(index)
    owner = {"owner_address": address, "visible": True}
    answers = await asyncio.gather(
        client.wallet("getcandelegatedmaxsize", {**owner, "type": 0}),
        client.wallet("getcandelegatedmaxsize", {**owner, "type": 1}),
        client.wallet("getcanwithdrawunfreezeamount", {**owner, "timestamp": int(time.time() * 1000)}),
        *(
            client.wallet("getdelegatedresourcev2", {"fromAddress": address, "toAddress": receiver, "visible": True})
            for receiver in receivers
        ),
    )
    bandwidth, energy, withdraw, *delegations = answers
    return parse_stake(account_answer, dict(zip(receivers, delegations)), bandwidth, energy, withdraw)


async def transaction(client: TronGridClient, txid: str, finality: Finality) -> Transaction | None:
    """The included transaction (gettransactionbyid), None when the view does not know it."""
    answer = json_object(await _view(client, finality)("gettransactionbyid", {"value": txid}), "gettransactionbyid")
    return parse_transaction(answer, txid) if answer else None


async def transaction_info(client: TronGridClient, txid: str, finality: Finality) -> Receipt | None:
    """The receipt (gettransactioninfobyid), None when the view holds none: not included, or not solidified yet."""
    answer = json_object(
        await _view(client, finality)("gettransactioninfobyid", {"value": txid}), "gettransactioninfobyid"
    )
    return parse_receipt(answer, txid, solidified=finality is Finality.SOLIDIFIED) if answer else None


async def chain_parameters(client: TronGridClient) -> ChainParameters:
    """The chain parameters that price fees (getchainparameters)."""
    return parse_chain_parameters(await client.wallet("getchainparameters"))


async def estimate_energy(
    client: TronGridClient,
    *,
    owner_address: str,
    contract_address: str,
    function_selector: str,
    parameter: bytes,
    call_value_sun: int,
) -> int:
    """Energy units the call would use (estimateenergy). A call that would revert is the node's refusal
    (`TronGridNodeError`, e.g. CONTRACT_EXE_ERROR)."""
    body = _contract_call(owner_address, contract_address, function_selector, parameter)
    if call_value_sun:
        body["call_value"] = call_value_sun
    return parse_energy_required(await client.wallet("estimateenergy", body))


async def constant_call(
    client: TronGridClient,
    *,
    owner_address: str,
    contract_address: str,
    function_selector: str,
    parameter: bytes,
    finality: Finality,
) -> ConstantCall:
    """Run a view function without a transaction (triggerconstantcontract) in the `finality` view. A node's
    refusal (no such contract) is `TronGridNodeError`; a revert is `ConstantCall.reverted`."""
    body = _contract_call(owner_address, contract_address, function_selector, parameter)
    return parse_constant_call(await _view(client, finality)("triggerconstantcontract", body))


def _contract_call(owner_address: str, contract_address: str, function_selector: str, parameter: bytes) -> dict[str, Any]:
    """The body TronGrid's contract-call paths share (base58 addresses: visible)."""
    return {
        "owner_address": owner_address,
        "contract_address": contract_address,
        "function_selector": function_selector,
        "parameter": parameter.hex(),
        "visible": True,
    }


async def both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Await two calls concurrently; if either fails, raise its error once both are over (none left running)."""
    a, b = await asyncio.gather(first, second, return_exceptions=True)
    for outcome in (a, b):
        if isinstance(outcome, BaseException):
            raise outcome
    return a, b  # type: ignore[return-value]

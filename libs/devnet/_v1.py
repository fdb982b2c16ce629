"""TronGrid's v1 API over the devnet chain: GET /v1/accounts/{address}/transactions/trc20.

Answers {"data": [...], "success": true, "meta": {...}}; a refusal is {"success": false, "error": ...,
"statusCode": 400}.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from aiohttp import web

from lucid_tron.chain import InvalidAddress, decode_address, keccak256, to_base58

from ._chain import Chain
from ._web import Json, chain_for, json_response

__all__ = ["V1Error", "add_v1_routes"]

V1_MAX_LIMIT = 200
V1_DEFAULT_LIMIT = 20


class V1Error(Exception):
    """A TronGrid v1 refusal: {"success": false, "error": ..., "statusCode": ...}."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _v1_bool(request: web.Request, key: str) -> bool:
    value = request.query.get(key, "false").lower()
    if value not in ("true", "false"):
        raise V1Error(f"{key} must be true or false")
    return value == "true"


def _fingerprint(position: tuple[int, int, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode().rstrip("=")


def _position(fingerprint: str) -> tuple[int, int, int]:
    try:
        padded = fingerprint + "=" * (-len(fingerprint) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded))
        if len(values) != 3 or not all(isinstance(v, int) for v in values):
            raise ValueError
        return values[0], values[1], values[2]
    except (ValueError, TypeError):
        raise V1Error("invalid fingerprint") from None


def trc20_history(chain: Chain, request: web.Request) -> Json:
    """GET /v1/accounts/{address}/transactions/trc20: Transfer and Approval events of the account, newest first."""
    try:
        account = decode_address(request.match_info["address"])
    except InvalidAddress:
        raise V1Error("Invalid address") from None
    only_confirmed = _v1_bool(request, "only_confirmed")
    only_unconfirmed = _v1_bool(request, "only_unconfirmed")
    if only_confirmed and only_unconfirmed:
        raise V1Error("only_confirmed and only_unconfirmed cannot both be true")
    only_to, only_from = _v1_bool(request, "only_to"), _v1_bool(request, "only_from")
    try:
        limit = int(request.query.get("limit", V1_DEFAULT_LIMIT))
        min_ts = int(request.query.get("min_timestamp", 0))
        max_ts = int(request.query.get("max_timestamp", 2**63 - 1))
    except ValueError:
        raise V1Error("limit, min_timestamp and max_timestamp must be integers") from None
    if not 1 <= limit <= V1_MAX_LIMIT:
        raise V1Error(f"limit must be between 1 and {V1_MAX_LIMIT}")
    order = request.query.get("order_by", "block_timestamp,desc")
    if order not in ("block_timestamp,desc", "block_timestamp,asc"):
        raise V1Error("order_by must be block_timestamp,desc or block_timestamp,asc")
    descending = order.endswith("desc")
    contract_filter = request.query.get("contract_address")
    if contract_filter:
        try:
            wanted_contract = decode_address(contract_filter)
        except InvalidAddress:
            raise V1Error("Invalid contract_address") from None
    else:
        wanted_contract = None
    after = _position(request.query["fingerprint"]) if request.query.get("fingerprint") else None

    token = chain.token
    solid = chain.solidified_number
    entries = []
    for block, index, receipt in chain.iter_receipts():
        if only_confirmed and block.number > solid or only_unconfirmed and block.number <= solid:
            continue
        if not min_ts <= block.timestamp <= max_ts:
            continue
        for log_index, log in enumerate(receipt.logs):
            if log.address != token.address or (wanted_contract and wanted_contract != log.address):
                continue
            sender = b"\x41" + log.topics[1][12:]
            receiver = b"\x41" + log.topics[2][12:]
            if account not in (sender, receiver) or only_to and receiver != account or only_from and sender != account:
                continue
            kind = "Transfer" if log.topics[0] == _TRANSFER_TOPIC else "Approval"
            entries.append(((block.number, index, log_index), block, receipt, sender, receiver, kind, log.data))
    entries.sort(key=lambda e: e[0], reverse=descending)
    if after is not None:
        entries = [e for e in entries if (e[0] < after if descending else e[0] > after)]
    page, more = entries[:limit], len(entries) > limit
    data = [
        {
            "transaction_id": receipt.txid.hex(),
            "token_info": {"symbol": token.symbol, "address": to_base58(token.address), "decimals": token.decimals,
                           "name": token.name},
            "block_timestamp": block.timestamp,
            "from": to_base58(sender),
            "to": to_base58(receiver),
            "type": kind,
            "value": str(int.from_bytes(value, "big")),
        }
        for _, block, receipt, sender, receiver, kind, value in page
    ]
    meta: dict[str, Any] = {"at": chain.now_ms(), "page_size": len(data)}
    if more:
        fingerprint = _fingerprint(page[-1][0])
        meta["fingerprint"] = fingerprint
        query = dict(request.query)
        query["fingerprint"] = fingerprint
        meta["links"] = {"next": str(request.url.with_query(query))}
    return {"data": data, "success": True, "meta": meta}


_TRANSFER_TOPIC = keccak256(b"Transfer(address,address,uint256)")


def add_v1_routes(app: web.Application, chain: Chain) -> None:
    async def history(request: web.Request) -> web.Response:
        return json_response(trc20_history(chain_for(request, chain), request))

    app.router.add_get("/v1/accounts/{address}/transactions/trc20", history)

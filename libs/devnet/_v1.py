"""TronGrid's v1 API over the devnet chain: GET /v1/accounts/{address}/transactions/trc20.

As TronGrid documents it: query parameters in snake_case or camelCase (`only_confirmed` or `onlyConfirmed`),
addresses (in the path and in contract_address) in base58 or hex, "41..." or "0x41...".

Answers {"data": [...], "success": true, "meta": {...}}; a refusal is {"success": false, "error": ...,
"statusCode": 400}.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from aiohttp import web

from lucid_tron.chain import InvalidAddress, decode_address, keccak256, to_base58

from ._chain import Chain
from ._lagging import LaggingView
from ._trc20 import Trc20Token
from ._web import Json, chain_for, json_response

__all__ = ["V1Error", "add_v1_routes"]

V1_MAX_LIMIT = 200
V1_DEFAULT_LIMIT = 20


class V1Error(Exception):
    """A TronGrid v1 refusal: {"success": false, "error": ..., "statusCode": ...}."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class _Query:
    """The query of a v1 request, each parameter readable by its snake_case name whether it came in snake_case or
    camelCase (TronGrid takes both: `onlyConfirmed` is `only_confirmed`)."""

    def __init__(self, request: web.Request) -> None:
        self.values: dict[str, str] = {}
        for key, value in request.query.items():
            name = _snake(key)
            if self.values.get(name, value) != value:
                raise V1Error(f"{name} is given twice with different values")
            self.values[name] = value

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.values.get(key, default)

    def flag(self, key: str) -> bool:
        value = self.values.get(key, "false").lower()
        if value not in ("true", "false"):
            raise V1Error(f"{key} must be true or false")
        return value == "true"

    def integer(self, key: str, default: int) -> int:
        try:
            return int(self.values.get(key, default))
        except ValueError:
            raise V1Error(f"{key} must be an integer") from None


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def v1_address(value: str, name: str) -> bytes:
    """An address as v1 takes it: base58 (T...), or hex with its 41 prefix, bare or after 0x."""
    text = value[2:] if value[:2] in ("0x", "0X") and len(value) == 44 else value
    try:
        return decode_address(text)
    except InvalidAddress:
        raise V1Error(f"Invalid {name}") from None


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


def trc20_history(chain: Chain | LaggingView, request: web.Request) -> Json:
    """GET /v1/accounts/{address}/transactions/trc20: Transfer and Approval events of the account's TRC20 tokens
    (every token contract devnet runs, each with its own token_info), newest first."""
    account = v1_address(request.match_info["address"], "address")
    query = _Query(request)
    only_confirmed, only_unconfirmed = query.flag("only_confirmed"), query.flag("only_unconfirmed")
    if only_confirmed and only_unconfirmed:
        raise V1Error("only_confirmed and only_unconfirmed cannot both be true")
    only_to, only_from = query.flag("only_to"), query.flag("only_from")
    limit = query.integer("limit", V1_DEFAULT_LIMIT)
    min_ts = query.integer("min_timestamp", 0)
    max_ts = query.integer("max_timestamp", 2**63 - 1)
    if not 1 <= limit <= V1_MAX_LIMIT:
        raise V1Error(f"limit must be between 1 and {V1_MAX_LIMIT}")
    order = _snake(query.get("order_by") or "block_timestamp,desc")
    if order not in ("block_timestamp,desc", "block_timestamp,asc"):
        raise V1Error("order_by must be block_timestamp,desc or block_timestamp,asc")
    descending = order.endswith("desc")
    contract_filter = query.get("contract_address")
    wanted_contract = v1_address(contract_filter, "contract_address") if contract_filter else None
    fingerprint = query.get("fingerprint")
    after = _position(fingerprint) if fingerprint else None

    tokens = {address: c for address, c in chain.contracts.items() if isinstance(c, Trc20Token)}
    solid = chain.solidified_number
    entries = []
    for block, index, receipt in chain.iter_receipts():
        if only_confirmed and block.number > solid or only_unconfirmed and block.number <= solid:
            continue
        if not min_ts <= block.timestamp <= max_ts:
            continue
        for log_index, log in enumerate(receipt.logs):
            if log.address not in tokens or (wanted_contract and wanted_contract != log.address):
                continue
            sender = b"\x41" + log.topics[1][12:]
            receiver = b"\x41" + log.topics[2][12:]
            if account not in (sender, receiver) or only_to and receiver != account or only_from and sender != account:
                continue
            kind = "Transfer" if log.topics[0] == _TRANSFER_TOPIC else "Approval"
            entries.append(((block.number, index, log_index), block, receipt, sender, receiver, kind, log))
    entries.sort(key=lambda e: e[0], reverse=descending)
    if after is not None:
        entries = [e for e in entries if (e[0] < after if descending else e[0] > after)]
    page, more = entries[:limit], len(entries) > limit
    data = [
        {
            "transaction_id": receipt.txid.hex(),
            "token_info": _token_info(tokens[log.address]),
            "block_timestamp": block.timestamp,
            "from": to_base58(sender),
            "to": to_base58(receiver),
            "type": kind,
            "value": str(int.from_bytes(log.data, "big")),
        }
        for _, block, receipt, sender, receiver, kind, log in page
    ]
    meta: dict[str, Any] = {"at": chain.now_ms(), "page_size": len(data)}
    if more:
        fingerprint = _fingerprint(page[-1][0])
        meta["fingerprint"] = fingerprint
        next_query = dict(request.query)
        next_query["fingerprint"] = fingerprint
        meta["links"] = {"next": str(request.url.with_query(next_query))}
    return {"data": data, "success": True, "meta": meta}


def _token_info(token: Trc20Token) -> dict[str, Any]:
    return {"symbol": token.symbol, "address": to_base58(token.address), "decimals": token.decimals,
            "name": token.name}


_TRANSFER_TOPIC = keccak256(b"Transfer(address,address,uint256)")


def add_v1_routes(app: web.Application, chain: Chain) -> None:
    async def history(request: web.Request) -> web.Response:
        return json_response(trc20_history(chain_for(request, chain), request))

    app.router.add_get("/v1/accounts/{address}/transactions/trc20", history)

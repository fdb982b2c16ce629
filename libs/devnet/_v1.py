"""TronGrid's v1 API over the devnet chain: GET /v1/accounts/{address}/transactions and .../transactions/trc20.

As TronGrid documents it: query parameters in snake_case or camelCase (`only_confirmed` or `onlyConfirmed`),
addresses (in the path and in contract_address) in base58 or hex, "41..." or "0x41...".

Answers {"data": [...], "success": true, "meta": {...}}; a refusal is {"success": false, "error": ...,
"statusCode": 400}.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from lucid_tron.chain import InvalidAddress, decode_address, keccak256, protocol, to_base58

from ._chain import Chain
from ._json import transaction_json
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


@dataclass(frozen=True)
class _History:
    """What the v1 history endpoints share: the account and the filters, order and page of their query."""

    account: bytes
    query: _Query
    only_confirmed: bool
    only_unconfirmed: bool
    only_to: bool
    only_from: bool
    limit: int
    min_ts: int
    max_ts: int
    descending: bool
    after: tuple[int, int, int] | None

    @classmethod
    def of(cls, request: web.Request) -> _History:
        account = v1_address(request.match_info["address"], "address")
        query = _Query(request)
        only_confirmed, only_unconfirmed = query.flag("only_confirmed"), query.flag("only_unconfirmed")
        if only_confirmed and only_unconfirmed:
            raise V1Error("only_confirmed and only_unconfirmed cannot both be true")
        limit = query.integer("limit", V1_DEFAULT_LIMIT)
        if not 1 <= limit <= V1_MAX_LIMIT:
            raise V1Error(f"limit must be between 1 and {V1_MAX_LIMIT}")
        order = _snake(query.get("order_by") or "block_timestamp,desc")
        if order not in ("block_timestamp,desc", "block_timestamp,asc"):
            raise V1Error("order_by must be block_timestamp,desc or block_timestamp,asc")
        fingerprint = query.get("fingerprint")
        return cls(
            account=account, query=query, only_confirmed=only_confirmed, only_unconfirmed=only_unconfirmed,
            only_to=query.flag("only_to"), only_from=query.flag("only_from"), limit=limit,
            min_ts=query.integer("min_timestamp", 0), max_ts=query.integer("max_timestamp", 2**63 - 1),
            descending=order.endswith("desc"), after=_position(fingerprint) if fingerprint else None,
        )  # fmt: skip

    def admits_block(self, block: Any, solid: int) -> bool:
        if self.only_confirmed and block.number > solid or self.only_unconfirmed and block.number <= solid:
            return False
        return self.min_ts <= block.timestamp <= self.max_ts

    def admits_parties(self, sender: bytes, receiver: bytes) -> bool:
        if self.account not in (sender, receiver):
            return False
        return not (self.only_to and receiver != self.account or self.only_from and sender != self.account)

    def page(self, chain: Chain | LaggingView, request: web.Request, entries: list[tuple[Any, ...]]) -> Json:
        """The answer: `entries` (position first, rendered JSON last) ordered, after the fingerprint, one page."""
        entries.sort(key=lambda e: e[0], reverse=self.descending)
        if self.after is not None:
            after = self.after
            entries = [e for e in entries if (e[0] < after if self.descending else e[0] > after)]
        page, more = entries[: self.limit], len(entries) > self.limit
        meta: dict[str, Any] = {"at": chain.now_ms(), "page_size": len(page)}
        if more:
            fingerprint = _fingerprint(page[-1][0])
            meta["fingerprint"] = fingerprint
            next_query = dict(request.query)
            next_query["fingerprint"] = fingerprint
            meta["links"] = {"next": str(request.url.with_query(next_query))}
        return {"data": [e[-1] for e in page], "success": True, "meta": meta}


def trc20_history(chain: Chain | LaggingView, request: web.Request) -> Json:
    """GET /v1/accounts/{address}/transactions/trc20: Transfer and Approval events of the account's TRC20 tokens
    (every token contract devnet runs, each with its own token_info), newest first."""
    history = _History.of(request)
    contract_filter = history.query.get("contract_address")
    wanted_contract = v1_address(contract_filter, "contract_address") if contract_filter else None
    tokens = {address: c for address, c in chain.contracts.items() if isinstance(c, Trc20Token)}
    solid = chain.solidified_number
    entries: list[tuple[Any, ...]] = []
    for block, index, receipt in chain.iter_receipts():
        if not history.admits_block(block, solid):
            continue
        for log_index, log in enumerate(receipt.logs):
            if log.address not in tokens or (wanted_contract and wanted_contract != log.address):
                continue
            sender = b"\x41" + log.topics[1][12:]
            receiver = b"\x41" + log.topics[2][12:]
            if not history.admits_parties(sender, receiver):
                continue
            entries.append(((block.number, index, log_index), {
                "transaction_id": receipt.txid.hex(),
                "token_info": _token_info(tokens[log.address]),
                "block_timestamp": block.timestamp,
                "from": to_base58(sender),
                "to": to_base58(receiver),
                "type": "Transfer" if log.topics[0] == _TRANSFER_TOPIC else "Approval",
                "value": str(int.from_bytes(log.data, "big")),
            }))  # fmt: skip
    return history.page(chain, request, entries)


def account_transactions(chain: Chain | LaggingView, request: web.Request) -> Json:
    """GET /v1/accounts/{address}/transactions: the TRX transfers and contract calls the account signed and the TRX
    transfers to it, as TronGrid prints them with blockNumber and block_timestamp, newest first. (TronGrid lists
    every contract type; devnet's users read only these.)"""
    history = _History.of(request)
    solid = chain.solidified_number
    entries: list[tuple[Any, ...]] = []
    for block in chain.blocks:
        if not history.admits_block(block, solid):
            continue
        for index, raw in enumerate(block.transactions):
            tx = protocol.Transaction.FromString(raw)
            contract = tx.raw_data.contract[0] if tx.raw_data.contract else None
            if contract is None:
                continue
            sender, receiver = _parties(contract)
            if not history.admits_parties(sender, receiver):
                continue
            shown = transaction_json(raw, visible=False)
            shown.update(blockNumber=block.number, block_timestamp=block.timestamp)
            entries.append(((block.number, index, 0), shown))
    return history.page(chain, request, entries)


def _parties(contract: protocol.Transaction.Contract) -> tuple[bytes, bytes]:
    """(owner, to_address) of a TRX transfer or contract call (to_address empty for a call); empty for others."""
    message_type = _CONTRACT_MESSAGES.get(contract.type)
    if message_type is None:
        return b"", b""
    value = message_type.FromString(contract.parameter.value)
    return bytes(value.owner_address), bytes(getattr(value, "to_address", b"") or b"")


def _token_info(token: Trc20Token) -> dict[str, Any]:
    return {"symbol": token.symbol, "address": to_base58(token.address), "decimals": token.decimals,
            "name": token.name}


_TRANSFER_TOPIC = keccak256(b"Transfer(address,address,uint256)")
_CONTRACT_TYPES = protocol.Transaction.Contract.ContractType
_CONTRACT_MESSAGES = {
    _CONTRACT_TYPES.TransferContract: protocol.TransferContract,
    _CONTRACT_TYPES.TriggerSmartContract: protocol.TriggerSmartContract,
}


def add_v1_routes(app: web.Application, chain: Chain) -> None:
    async def history(request: web.Request) -> web.Response:
        return json_response(trc20_history(chain_for(request, chain), request))

    async def transactions(request: web.Request) -> web.Response:
        return json_response(account_transactions(chain_for(request, chain), request))

    app.router.add_get("/v1/accounts/{address}/transactions/trc20", history)
    app.router.add_get("/v1/accounts/{address}/transactions", transactions)

"""devnet's own admin API under /devnet/: produce blocks, fund accounts, reorg, faults, info.

Refusals answer HTTP 400 with {"Error": ...}.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web

from lucid_tron.chain import InvalidAddress, decode_address, to_base58

from ._blocks import Block
from ._chain import Chain, ReorgError
from ._faults import FaultRule, Faults
from ._poisoning import PoisoningError, lookalike_key, poison
from ._web import json_response, read_params

__all__ = ["add_admin_routes"]


# POST /devnet/poison's integer fields and their defaults.
_POISON_NUMBERS = (("dust_units", 1), ("fake_units", 0), ("prefix", 2), ("suffix", 1))


def _block_summary(block: Block) -> dict[str, Any]:
    return {"number": block.number, "blockID": block.id.hex(), "timestamp": block.timestamp,
            "transactions": [r.txid.hex() for r in block.receipts]}


def _refused(message: str) -> web.Response:
    return json_response({"Error": message}, status=400)


class _Admin:
    def __init__(self, chain: Chain, faults: Faults, info: Callable[[], dict[str, Any]]) -> None:
        self.chain = chain
        self.faults = faults
        self.info = info

    def _heads(self) -> dict[str, Any]:
        return {"head": self.chain.head.number, "solidified": self.chain.solidified_number}

    async def produce_block(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        count = params.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
            return _refused("count must be an integer between 1 and 1000")
        blocks = [self.chain.produce_block() for _ in range(count)]
        return json_response({"blocks": [_block_summary(b) for b in blocks], **self._heads()})

    async def fund(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        try:
            address = decode_address(params.get("address", ""))
        except InvalidAddress as error:
            return _refused(f"invalid address: {error}")
        amounts = {key: params.get(key, 0) for key in ("trx_sun", "usdt_units", "lookalike_units")}
        for key, value in amounts.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                return _refused(f"{key} must be a non-negative integer")
        self.chain.fund(address, amounts["trx_sun"], amounts["usdt_units"], amounts["lookalike_units"])
        ledger = self.chain.ledger()
        account = ledger.account(address)
        return json_response({
            "address": to_base58(address),
            "balance": account.balance if account else 0,
            "usdt_balance": self.chain.token.balance_of(ledger, address),
            "lookalike_balance": self.chain.lookalike.balance_of(ledger, address),
        })

    async def reorg(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        depth = params.get("depth", 1)
        requeue = params.get("requeue", self.chain.config.reorg_requeue)
        if isinstance(depth, bool) or not isinstance(depth, int) or not isinstance(requeue, bool):
            return _refused("depth must be an integer and requeue a boolean")
        try:
            taken_out = self.chain.reorg(depth, requeue=requeue)
        except ReorgError as error:
            return _refused(str(error))
        return json_response({"transactions": [t.hex() for t in taken_out], "requeued": requeue, **self._heads()})

    async def poison(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        try:
            victim = decode_address(params.get("victim", ""))
            counterparty = to_base58(decode_address(params.get("counterparty", "")))
        except InvalidAddress as error:
            return _refused(f"victim and counterparty must be addresses: {error}")
        zero_value = params.get("zero_value", True)
        if not isinstance(zero_value, bool):
            return _refused("zero_value must be a boolean")
        numbers = {key: params.get(key, default) for key, default in _POISON_NUMBERS}
        for key, value in numbers.items():
            if isinstance(value, bool) or not isinstance(value, int):
                return _refused(f"{key} must be an integer")
        try:
            # Finding the lookalike's key can take seconds: off the event loop, so other requests go on.
            key = await asyncio.to_thread(lookalike_key, self.chain, counterparty, numbers["prefix"], numbers["suffix"])
            done = poison(self.chain, victim, key, zero_value=zero_value, dust_units=numbers["dust_units"],
                          fake_units=numbers["fake_units"])
        except PoisoningError as error:
            return _refused(str(error))
        return json_response({"lookalike": done.lookalike, "transactions": list(done.txids)})

    async def faults_rules(self, request: web.Request) -> web.Response:
        if request.method == "DELETE":
            self.faults.clear()
        elif request.method == "POST":
            params = await read_params(request)
            bodies = params["rules"] if isinstance(params.get("rules"), list) else [params]
            try:
                rules = [FaultRule.from_json(body) for body in bodies]
            except (TypeError, ValueError) as error:
                return _refused(f"invalid fault rule: {error}")
            for rule in rules:
                self.faults.add(rule)
        return json_response({"rules": [rule.to_json() for rule in self.faults.rules]})

    async def info_answer(self, request: web.Request) -> web.Response:
        return json_response(self.info())


def add_admin_routes(app: web.Application, chain: Chain, faults: Faults, info: Callable[[], dict[str, Any]]) -> None:
    admin = _Admin(chain, faults, info)
    app.router.add_post("/devnet/produce-block", admin.produce_block)
    app.router.add_post("/devnet/fund", admin.fund)
    app.router.add_post("/devnet/reorg", admin.reorg)
    app.router.add_post("/devnet/poison", admin.poison)
    app.router.add_route("*", "/devnet/faults", admin.faults_rules)
    app.router.add_get("/devnet/info", admin.info_answer)
    app.router.add_post("/devnet/info", admin.info_answer)

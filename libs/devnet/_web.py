"""Request plumbing shared by devnet's HTTP modules: java-tron's error answer, parameters, JSON responses.

`Call` is one /wallet/ request as java-tron reads it: parameters from the query and the JSON body, `visible`
(base58 addresses in and out when true, "41..." hex when false), and whether it reads the solidified state.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lucid_tron.chain import InvalidAddress, decode_address

from ._lagging import LaggingView
from ._ledger import BANDWIDTH, ENERGY

if TYPE_CHECKING:
    from ._chain import Chain

__all__ = ["READ_LAG", "Call", "JavaError", "Json", "chain_for", "java_bool", "json_response", "read_params"]

Json = dict[str, Any] | list[Any]

# The request key under which fault injection leaves how many blocks behind the serving node is.
READ_LAG = web.RequestKey("lucid_tron.devnet.read_lag", int)


def chain_for(request: web.Request, chain: Chain) -> Chain | LaggingView:
    """The chain as the node serving `request` sees it: a node lagging behind when fault injection says so."""
    lag = request.get(READ_LAG, 0)
    return LaggingView(chain, lag) if lag else chain


class JavaError(Exception):
    """A request java-tron would refuse with {"Error": "class <exception> : <message>"} (HTTP 200)."""

    def __init__(self, message: str, exception: str = "java.lang.IllegalArgumentException") -> None:
        super().__init__(message)
        self.body = {"Error": f"class {exception} : {message}"}


class Call:
    """One /wallet/ request: its parameters, `visible`, and whether it reads the solidified state."""

    def __init__(self, chain: Chain | LaggingView, params: dict[str, Any], solidified: bool) -> None:
        self.chain = chain
        self.params = params
        self.solidified = solidified
        self.visible = java_bool(params.get("visible", False), "visible")

    def address(self, key: str, *, required: bool = True) -> bytes | None:
        value = self.params.get(key)
        if value is None or value == "":
            if required:
                raise JavaError(f"{key} isn't set.", "java.security.InvalidParameterException")
            return None
        if not isinstance(value, str):
            raise JavaError(f"{key} must be a string address, got {type(value).__name__}")
        looks_hex = bool(re.fullmatch(r"[0-9a-fA-F]+", value))
        if self.visible and looks_hex:
            raise JavaError(f"{key} {value!r} is hex but visible=true expects a base58 address (T...)")
        if not self.visible and not looks_hex:
            raise JavaError(f"{key} {value!r} is not hex; send visible=true with base58 addresses")
        try:
            return decode_address(value)
        except InvalidAddress as error:
            raise JavaError(f"invalid {key}: {error}") from None

    def integer(self, key: str, default: int | None = None) -> int:
        value = self.params.get(key, default)
        if value is None:
            raise JavaError(f"key [{key}] does not exist", "java.security.InvalidParameterException")
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise JavaError(f"{key} must be an integer, got {value!r}", "java.lang.NumberFormatException")
        if not -(2**63) <= value < 2**63:
            raise JavaError(f"{key} is out of the int64 range: {value}", "java.lang.ArithmeticException")
        return value

    def hex(self, key: str) -> bytes:
        value = self.params.get(key, "")
        if not isinstance(value, str):
            raise JavaError(f"{key} must be a hex string")
        try:
            return bytes.fromhex(value[2:] if value[:2] in ("0x", "0X") else value)
        except ValueError:
            raise JavaError(f"{key} is not hex: {value!r}", "org.bouncycastle.util.encoders.DecoderException") from None

    def resource(self, key: str = "resource") -> str:
        value = self.params.get(key, BANDWIDTH)
        if value in (0, BANDWIDTH):
            return BANDWIDTH
        if value in (1, ENERGY):
            return ENERGY
        if value in (2, "TRON_POWER"):
            return "TRON_POWER"
        raise JavaError(f"{key} must be BANDWIDTH or ENERGY, got {value!r}")


def java_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if value is None:
        return False
    raise JavaError(f"{key} must be true or false, got {value!r}", "com.alibaba.fastjson.JSONException")


async def read_params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        text = await request.text()
        if text.strip():
            try:
                body = json.loads(text)
            except ValueError as error:
                raise JavaError(f"syntax error, {error}", "com.alibaba.fastjson.JSONException") from None
            if not isinstance(body, dict):
                raise JavaError(f"can not cast to JSONObject: {type(body).__name__}", "java.lang.ClassCastException")
            params.update(body)
    return params


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(data, separators=(",", ":")), status=status, content_type="application/json", headers=headers
    )

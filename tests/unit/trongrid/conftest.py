"""Real servers for the TronGrid client tests: a TronGrid stand-in that answers what a test scripts (JSON,
429, 5xx, slow answers, dropped connections) and counts what reaches it, and microsocks in front of it so
every request takes the whole path: aiohttp -> tor_proxy -> SOCKS5 -> HTTP server."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from lucid_tron.testing import MicrosocksServer
from tor_proxy import TorConfig, TorProxy

@dataclass
class Reply:
    """One scripted answer. `body` is sent as JSON unless it is bytes; `drop` closes the connection instead."""

    status: int = 200
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drop: bool = False


@dataclass(frozen=True)
class Seen:
    """A request as the server received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]  # case-insensitive, as aiohttp received them
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class TronGridStandIn:
    """Answers each request with the next scripted `Reply`, then with `default`; records every request."""

    def __init__(self) -> None:
        self.default = Reply(body={"blockID": "00000000000000aa"})
        self.requests: list[Seen] = []
        self._script: deque[Reply] = deque()
        self._web_server = web.Server(self._handle)
        self._tcp_server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        # A name, not an address: it must travel to the SOCKS server unresolved.
        return f"http://localhost:{self.port}"

    def answer(
        self,
        status: int = 200,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        delay_s: float = 0.0,
        drop: bool = False,
        times: int = 1,
    ) -> None:
        """Script the next `times` answers."""
        reply = Reply(status, {} if body is None else body, headers or {}, delay_s, drop)
        self._script.extend([reply] * times)

    def always(
        self, status: int = 200, body: Any = None, *, headers: dict[str, str] | None = None, delay_s: float = 0.0
    ) -> None:
        """Answer this way once the script is used up."""
        self.default = Reply(status, {} if body is None else body, headers or {}, delay_s)

    async def start(self) -> None:
        self._tcp_server = await asyncio.get_running_loop().create_server(self._web_server, "127.0.0.1", 0)
        self.port = self._tcp_server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        await self._web_server.shutdown(0.5)
        if self._tcp_server is not None:
            self._tcp_server.close()
            await self._tcp_server.wait_closed()

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        self.requests.append(
            Seen(request.method, request.path, dict(request.query), request.headers, await request.read())
        )
        reply = self._script.popleft() if self._script else self.default
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.drop:
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        return web.Response(status=reply.status, body=body, headers=reply.headers, content_type="application/json")


@pytest.fixture
async def trongrid_server() -> AsyncIterator[TronGridStandIn]:
    server = TronGridStandIn()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def tor(microsocks: MicrosocksServer) -> AsyncIterator[TorProxy]:
    async with TorProxy(TorConfig(socks_host=microsocks.host, socks_port=microsocks.port)) as proxy:
        yield proxy

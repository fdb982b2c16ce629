"""Real servers for the tor_proxy tests: microsocks (a SOCKS5 server that logs each destination as it was
asked for) and a local HTTP server that counts the TCP connections it accepts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web

from lucid_tron.testing import MicrosocksServer

class CountingHttpServer:
    """An HTTP server on 127.0.0.1 that answers 200 with the request path and counts TCP connections."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self._web_server = web.Server(self._handle)
        self._tcp_server: asyncio.Server | None = None

    async def start(self) -> None:
        def protocol() -> web.RequestHandler:
            self.connections += 1
            return self._web_server()

        self._tcp_server = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", 0)
        self.port = self._tcp_server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        await self._web_server.shutdown(1.0)
        if self._tcp_server is not None:
            self._tcp_server.close()
            await self._tcp_server.wait_closed()

    async def _handle(self, request: web.BaseRequest) -> web.Response:
        return web.Response(text=f"answered {request.path}")


@pytest.fixture
def microsocks() -> Iterator[MicrosocksServer]:
    with MicrosocksServer() as server:
        yield server


@pytest.fixture
async def target() -> AsyncIterator[CountingHttpServer]:
    server = CountingHttpServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def microsocks_requiring_auth() -> Iterator[MicrosocksServer]:
    """microsocks that accepts only the user "someone-else" (so our per-purpose credentials fail)."""
    with MicrosocksServer(username="someone-else", password="not-ours") as server:
        yield server

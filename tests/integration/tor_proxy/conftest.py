"""Real servers for the tor_proxy tests: microsocks (a SOCKS5 server that logs each destination as it was
asked for), a local HTTP server that counts the TCP connections it accepts, and ports that are not what they
should be (silent, echoing)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web

from lucid_tron.testing import MicrosocksServer

class CountingHttpServer:
    """An HTTP server on 127.0.0.1 that answers 200 with the request path, counts TCP connections and keeps the
    headers of every request."""

    def __init__(self) -> None:
        self.connections = 0
        self.request_headers: list[dict[str, str]] = []
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
        self.request_headers.append(dict(request.headers))
        return web.Response(text=f"answered {request.path}")


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


async def _start_tcp(handler) -> tuple[asyncio.Server, list[asyncio.StreamWriter]]:  # type: ignore[no-untyped-def]
    held: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await handler(reader, writer)

    return await asyncio.start_server(handle, "127.0.0.1", 0), held


async def _stop_tcp(server: asyncio.Server, held: list[asyncio.StreamWriter]) -> None:
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A TCP port that accepts connections and never says a word: a hung Tor."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    server, held = await _start_tcp(hold)
    yield server.sockets[0].getsockname()[1]
    await _stop_tcp(server, held)


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    """A TCP port that sends back whatever it receives: something that is neither SOCKS5 nor Tor's control port."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(4096):
            writer.write(data)
            await writer.drain()

    server, held = await _start_tcp(echo)
    yield server.sockets[0].getsockname()[1]
    await _stop_tcp(server, held)

"""The aiohttp connector that is the only transport of a Tor session: SOCKS5, remote DNS, our errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from ssl import SSLContext

import python_socks
from aiohttp.client_proto import ResponseHandler
from aiohttp_socks import ProxyConnector, ProxyType

from ._exceptions import DestinationUnreachable, ProxyUnavailable

__all__ = ["TorConnector"]


class TorConnector(ProxyConnector):
    """aiohttp-socks' `ProxyConnector` fixed to SOCKS5 with remote DNS, raising tor_proxy's exceptions.

    aiohttp-socks installs a resolver that never resolves the destination, and with `rdns=True` the
    hostname goes to the proxy in the SOCKS5 CONNECT request: nothing about the destination is looked
    up locally. Only the proxy's own host is resolved here (a name on our own network).

    `admit` runs before every new connection and raises `ProxyUnavailable` to refuse it without opening a
    socket (the health monitor knows Tor is unusable): the call fails now, not at its deadline.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        password: str,
        admit: Callable[[], None] | None = None,
        **kwargs: object,
    ) -> None:
        self._admit = admit
        super().__init__(
            host=host,
            port=port,
            proxy_type=ProxyType.SOCKS5,
            username=username,
            password=password,
            rdns=True,
            **kwargs,  # type: ignore[arg-type]
        )

    async def _connect_via_proxy(
        self,
        host: str,
        port: int,
        ssl: SSLContext | None = None,
        timeout: float | None = None,
    ) -> tuple[asyncio.Transport, ResponseHandler]:
        # Translated here, inside the connector, so that every user of the session sees the same
        # errors (aiohttp passes exceptions that are not its own straight through to the caller).
        where = f"Tor SOCKS port {self._proxy_host}:{self._proxy_port}"
        if self._admit is not None:
            self._admit()
        try:
            return await super()._connect_via_proxy(host, port, ssl, timeout)
        except python_socks.ProxyConnectionError as exc:
            raise ProxyUnavailable(f"cannot connect to {where}: {exc}") from exc
        except python_socks.ProxyTimeoutError as exc:
            raise ProxyUnavailable(f"no connection through {where} in time: {exc}") from exc
        except python_socks.ProxyError as exc:
            if exc.error_code:
                raise DestinationUnreachable(
                    f"{where} could not reach {host}:{port}: {exc}", socks_reply=exc.error_code
                ) from exc
            raise ProxyUnavailable(f"{where} refused the SOCKS5 handshake: {exc}") from exc

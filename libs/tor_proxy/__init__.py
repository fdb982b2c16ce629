"""The one way out to the internet: HTTP sessions through Tor's SOCKS port that fail closed.

    config = TorConfig.from_env()                 # TOR_PROXY=socks5h://tor-proxy:9050, ...
    async with TorProxy(config) as tor:
        session = tor.session("chain-read")       # aiohttp.ClientSession, own circuit per purpose
        async with session.get("https://api.trongrid.io/wallet/getnowblock") as response: ...

    TorConfig              validated settings; `from_env()` reads the deployment's variables
    TorProxy               `session(purpose)`, `probe()`, `check_connectivity(url)`, `close()`
    ProbeResult            the SOCKS port answered, and how fast
    ConnectivityResult     a URL answered through Tor, and how fast
    exceptions             TorProxyError (an Unavailable) > ProxyNotConfigured, ProxyUnavailable,
                           DestinationUnreachable; TorConfigError (a ValueError)

Hostnames always go to the proxy (remote DNS); no code path connects directly unless the
configuration says `direct=True`, which is logged as a WARNING.
"""

from ._config import TorConfig
from ._proxy import ConnectivityResult, ProbeResult, TorProxy
from .exceptions import (
    DestinationUnreachable,
    ProxyNotConfigured,
    ProxyUnavailable,
    TorConfigError,
    TorProxyError,
)

__all__ = [
    "ConnectivityResult",
    "DestinationUnreachable",
    "ProbeResult",
    "ProxyNotConfigured",
    "ProxyUnavailable",
    "TorConfig",
    "TorConfigError",
    "TorProxy",
    "TorProxyError",
]

"""The one way out to the internet: HTTP sessions through Tor's SOCKS port that fail closed.

A service wires it in three lines (see `TorRuntime`)::

    tor = TorRuntime(settings.tor_config)             # settings: a class with TorSettings among its bases
    trongrid = TronGridClient(url, tor.proxy, ...)    # every request through Tor, one circuit per purpose
    ServiceSpec(..., on_start=[tor.start], on_stop=[tor.close])   # "tor" in grpc health, NEWNYM schedule, fail fast

and a script::

    async with TorRuntime(TorConfig.from_env()) as tor:
        session = tor.session("chain-read")           # aiohttp.ClientSession, own circuit per purpose
        async with session.get("https://api.trongrid.io/wallet/getnowblock") as response: ...

    TorSettings            the deployment's variables and secrets (a lucid_tron.config settings group);
                           `.tor_config` is the TorConfig; Tor off only when explicit, logged as a WARNING
    TorConfig              what the runtime takes, validated when built; `from_env()` reads it through TorSettings
    TorRuntime             proxy + controller + monitor + stats; `start(health)`, `close()`, `session(purpose)`
    TorProxy               `session(purpose)`, `socks_username(purpose)`, `new_circuits()`, `probe()`,
                           `check_connectivity(url)`, `set_unavailable()`/`set_available()`, `stats`, `close()`
    TorController          the control port (stem): `bootstrap()`, `circuit_established()`, `circuits()`,
                           `socks_listeners()`, `rotate()`, `rotate_every()`, `newnym_wait_s()`
    TorHealthMonitor       periodic and event-driven checks -> `on_change(serving, reason)` and the proxy's gate
    TorStatus              one check's result;  TorStats: counters (requests, failures, rotations, latency)
    BootstrapStatus, CircuitInfo, SocksListener, Rotation, ProbeResult, ConnectivityResult: results
    USER_AGENT             the one User-Agent every node sends
    exceptions             TorProxyError (an Unavailable) > ProxyNotConfigured, ProxyUnavailable,
                           DestinationUnreachable; TorControlError (an Unavailable) > ControlPortUnavailable,
                           ControlAuthFailed, NewnymRateLimited; TorConfigError (a ValueError: a TorConfig built
                           in code with a bad value; from the environment it is a lucid_tron.config.ConfigError)

Hostnames always go to the proxy (remote DNS); no code path connects directly unless the
configuration says `direct=True`, which is logged as a WARNING.
"""

from lucid_tron.lazy import lazy_exports

from ._config import NEWNYM_MIN_INTERVAL_S, TorConfig
from ._monitor import HealthCallback, TorHealthMonitor, TorStatus
from ._proxy import USER_AGENT, ConnectivityResult, ProbeResult, TorProxy
from ._runtime import TorRuntime
from ._settings import TorSettings
from ._stats import TorStats
from ._exceptions import (
    ControlAuthFailed,
    ControlPortUnavailable,
    DestinationUnreachable,
    NewnymRateLimited,
    ProxyNotConfigured,
    ProxyUnavailable,
    TorConfigError,
    TorControlError,
    TorProxyError,
)

__all__ = [
    "NEWNYM_MIN_INTERVAL_S",
    "USER_AGENT",
    "BootstrapStatus",
    "CircuitInfo",
    "ConnectivityResult",
    "ControlAuthFailed",
    "ControlPortUnavailable",
    "DestinationUnreachable",
    "HealthCallback",
    "NewnymRateLimited",
    "ProbeResult",
    "ProxyNotConfigured",
    "ProxyUnavailable",
    "Rotation",
    "SocksListener",
    "TorConfig",
    "TorConfigError",
    "TorControlError",
    "TorHealthMonitor",
    "TorProxy",
    "TorProxyError",
    "TorRuntime",
    "TorSettings",
    "TorStats",
    "TorStatus",
]

# The control port's names load stem, which a process with Tor off never needs.
__getattr__, __dir__ = lazy_exports(
    __name__, dict.fromkeys(("BootstrapStatus", "CircuitInfo", "Rotation", "SocksListener", "TorController"), "._control")
)

"""Launchers for real servers used by tests, benchmarks and `lucid-tron up`: a Mongo-wire server, redis-server, a private Tor network.

Every server runs as a child process on a free 127.0.0.1 port (held until it stops, even across a kill() or
restart(), so parallel test processes never take each other's ports), logs to a file in its own temp dir
(`log_path`), answers before `start()` returns, and stops with SIGTERM, then SIGKILL after a timeout::

    free_port()                   a free TCP port on 127.0.0.1, reserved for this process: no other gets it
    MongoServer(storage_path)     SecantusDB (`secantusd-py`), one-node replica set "secantus"; `.url`
    RedisServer()                 redis-server without persistence; `.url`, `.url_for_db(n)`
    mongo_answers(url, timeout)   does a MongoDB server answer ping at url?
    redis_answers(url, timeout)   does a Redis server answer PING at url?
    MicrosocksServer()            Debian's microsocks, a plain SOCKS5 server that logs destinations as asked
    TorNetwork()                  a private Tor network on loopback (3 authorities, one the exit, + a client)
    ServerStartError              a server exited or did not answer while starting (with its log tail)
    ServerProcess                 the shared lifecycle, to subclass for another server (`kind`, `url`,
                                  `_command()`, `_answers(timeout)`)

Each server is a context manager (`with` or `async with`) and has `start()`, `stop()`, `kill()` (SIGKILL,
as a crash), `restart()` (same port) and `terminate()`. Names are imported on first use, so importing
this package loads neither pymongo nor redis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lucid_tron.lazy import lazy_exports

from ._ports import free_port
from ._process import ServerProcess, ServerStartError

if TYPE_CHECKING:
    from .microsocks import MicrosocksServer
    from .mongo import MongoServer, mongo_answers
    from .redis import RedisServer, redis_answers
    from .tor_network import TorNetwork

__all__ = [
    "MicrosocksServer",
    "MongoServer",
    "RedisServer",
    "ServerProcess",
    "ServerStartError",
    "TorNetwork",
    "free_port",
    "mongo_answers",
    "redis_answers",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "MongoServer": ".mongo",
        "mongo_answers": ".mongo",
        "RedisServer": ".redis",
        "redis_answers": ".redis",
        "MicrosocksServer": ".microsocks",
        "TorNetwork": ".tor_network",
    },
)

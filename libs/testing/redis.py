"""A real redis-server for tests, benchmarks and `lucid-tron up`: no disk, loopback only."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence

from ._process import ServerProcess

__all__ = ["RedisServer", "redis_answers"]


class RedisServer(ServerProcess):
    """`redis-server --port N --bind 127.0.0.1 --save "" --appendonly no` as a child process.

    Nothing is written to disk, so `kill()` or `restart()` loses every key: that is how tests show that
    Redis is never the only copy of anything. The default redis.conf is not read. `extra_args` go to
    redis-server as they are (e.g. `["--maxmemory", "10mb"]`).

        with RedisServer() as redis:             # or: async with RedisServer() as redis
            client = redis_asyncio.Redis.from_url(redis.url)
    """

    kind = "redis"

    def __init__(
        self,
        *,
        extra_args: Sequence[str] = (),
        port: int | None = None,
        workdir: str | os.PathLike[str] | None = None,
        keep_workdir: bool = False,
        start_timeout: float = 10.0,
        stop_timeout: float = 10.0,
    ) -> None:
        super().__init__(
            port=port,
            workdir=workdir,
            keep_workdir=keep_workdir,
            start_timeout=start_timeout,
            stop_timeout=stop_timeout,
        )
        self.extra_args = tuple(extra_args)

    @property
    def url(self) -> str:
        return self.url_for_db(0)

    def url_for_db(self, db: int) -> str:
        """The URL of logical database `db` (0-15) on this server."""
        return f"redis://{self.host}:{self.port}/{db}"

    def _command(self) -> list[str]:
        executable = shutil.which("redis-server")
        if executable is None:
            raise FileNotFoundError("redis-server not found on PATH (Debian: apt-get install redis-server)")
        return [
            executable,
            "--port", str(self.port),
            "--bind", self.host,
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.workdir),
            "--logfile", "",  # stdout, which goes to the log file
            "--daemonize", "no",
            *self.extra_args,
        ]  # fmt: skip

    def _answers(self, timeout: float) -> bool:
        return redis_answers(self.url, timeout)


def redis_answers(url: str, timeout: float = 1.0) -> bool:
    """True when a Redis server at `url` answers PING within about `timeout` seconds (auth from the URL).

    `lucid-tron up` uses it to decide between the REDIS_URL it was given and a redis-server of its own.
    """
    from redis import Redis
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisError
    from redis.retry import Retry

    try:
        client = Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
        )
    except ValueError:  # not a Redis URL
        return False
    try:
        return bool(client.ping())
    except RedisError:
        return False
    finally:
        client.close()

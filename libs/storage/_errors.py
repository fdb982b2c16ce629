"""Storage outages as `lucid_tron.errors.Unavailable`, without importing either driver.

An exception can only come from pymongo or redis-py if that driver is already imported, so the checks
look the exception classes up in `sys.modules`: a service that uses only MongoDB never loads redis.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, overload

from lucid_tron.errors import Unavailable

__all__ = ["MONGO_UNAVAILABLE", "REDIS_UNAVAILABLE", "as_unavailable", "map_storage_errors"]

MONGO_UNAVAILABLE = "MONGO_UNAVAILABLE"
REDIS_UNAVAILABLE = "REDIS_UNAVAILABLE"

_F = TypeVar("_F", bound=Callable[..., Any])


def as_unavailable(exc: BaseException) -> Unavailable | None:
    """The `Unavailable` that stands for `exc` when it means MongoDB or Redis cannot be reached, else None.

    MongoDB: pymongo's `ConnectionFailure` family (`ServerSelectionTimeoutError`, `AutoReconnect`,
    `NetworkTimeout`, `NotPrimaryError`, `WaitQueueTimeoutError`) and every error that pymongo marks as a
    timeout (`.timeout`: `ExecutionTimeout` when maxTimeMS ran out on the server, `WTimeoutError` when the
    write concern was not satisfied in time, any error raised when a `pymongo.timeout()` block ran out), so a
    hung MongoDB answers like a dead one. Redis: redis-py's `ConnectionError`
    (including authentication failures and a full connection pool) and `TimeoutError`. Anything else
    (a duplicate key, a bad query, a Lua error) is not an outage and is left alone.

    The message names only the exception class: it reaches callers, so no host, port or credential.
    """
    pymongo_errors = sys.modules.get("pymongo.errors")
    if pymongo_errors is not None and (
        isinstance(exc, pymongo_errors.ConnectionFailure)
        or (isinstance(exc, pymongo_errors.PyMongoError) and exc.timeout)
    ):
        return Unavailable(f"MongoDB is unavailable ({type(exc).__name__})", reason=MONGO_UNAVAILABLE)
    redis_exceptions = sys.modules.get("redis.exceptions")
    if redis_exceptions is not None and isinstance(
        exc, (redis_exceptions.ConnectionError, redis_exceptions.TimeoutError)
    ):
        return Unavailable(f"Redis is unavailable ({type(exc).__name__})", reason=REDIS_UNAVAILABLE)
    return None


class _StorageErrorMapper:
    """Context manager (`with` / `async with`) and decorator (sync or async functions)."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if exc is None:
            return False
        unavailable = as_unavailable(exc)
        if unavailable is None:
            return False
        raise unavailable from exc

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        return self.__exit__(exc_type, exc, tb)

    def __call__(self, func: _F) -> _F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with self:
                    return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        if inspect.isasyncgenfunction(func) or inspect.isgeneratorfunction(func):
            raise TypeError("map_storage_errors cannot wrap a generator; use it as a context manager inside")

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


@overload
def map_storage_errors() -> _StorageErrorMapper: ...
@overload
def map_storage_errors(func: _F) -> _F: ...


def map_storage_errors(func: _F | None = None) -> _StorageErrorMapper | _F:
    """Turn "MongoDB/Redis cannot be reached" into `Unavailable` (reason MONGO_UNAVAILABLE or
    REDIS_UNAVAILABLE), chained to the driver's exception; every other exception passes through.

        with map_storage_errors():              # or: async with map_storage_errors():
            await invoices.insert_one(doc)

        @map_storage_errors                     # also @map_storage_errors()
        async def get_invoice(self, invoice_id): ...

    A commit that fails this way may still have been applied (pymongo labels it
    UnknownTransactionCommitResult): callers retry with the same idempotency key, never blindly.
    """
    mapper = _StorageErrorMapper()
    return mapper if func is None else mapper(func)

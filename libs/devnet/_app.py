"""The aiohttp application of a devnet: /wallet/ and /walletsolidity/, /v1/, /devnet/ admin, with fault injection.

Unknown paths answer 404 with a JSON body; an unexpected failure answers 500 with a java-style
{"Error": ...} (its traceback goes to the log, never to the client).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ._admin import add_admin_routes
from ._chain import Chain
from ._faults import Faults
from ._v1 import V1Error, add_v1_routes
from ._wallet import add_wallet_routes
from ._web import READ_LAG, JavaError, json_response

__all__ = ["build_app"]

logger = logging.getLogger("lucid_tron.devnet")

MAX_BODY_BYTES = 4 * 1024 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _fault_middleware(faults: Faults) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        decision = faults.decide(request.path)
        if decision.latency_ms:
            await asyncio.sleep(decision.latency_ms / 1000)
        if decision.drop:
            # Close the connection without a byte of answer, as a crashed proxy or a reset would.
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        if decision.status is not None:
            headers = {"Retry-After": str(decision.retry_after_s)} if decision.retry_after_s is not None else None
            message = "Too Many Requests" if decision.status == 429 else f"injected HTTP {decision.status}"
            return json_response({"Error": f"devnet fault injection: {message}"}, decision.status, headers)
        request[READ_LAG] = decision.lag_blocks
        return await handler(request)

    return inject


@web.middleware
async def _error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except JavaError as error:
        return json_response(error.body)
    except V1Error as error:
        return json_response({"success": False, "error": str(error), "statusCode": error.status}, error.status)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return json_response({"Error": f"{error.status} {error.reason}: {request.method} {request.path}"},
                             error.status)
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        logger.exception("devnet failed on %s %s", request.method, request.path)
        return json_response({"Error": "class java.lang.Exception : devnet internal error (see its log)"}, 500)


def build_app(chain: Chain, faults: Faults, info: Callable[[], dict[str, Any]]) -> web.Application:
    """The aiohttp application serving `chain`; `info` answers GET /devnet/info."""
    app = web.Application(middlewares=[_error_middleware, _fault_middleware(faults)], client_max_size=MAX_BODY_BYTES)
    add_wallet_routes(app, chain)
    add_v1_routes(app, chain)
    add_admin_routes(app, chain, faults, info)
    return app

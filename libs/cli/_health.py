"""grpc.health.v1 probes of the services: wait until one is SERVING, or ask once how it is."""

from __future__ import annotations

import asyncio
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

__all__ = ["UNREACHABLE", "probe", "wait_serving"]

UNREACHABLE = "UNREACHABLE"

# A service that is still starting refuses connections; grpc then backs off before reconnecting (1 s at first by
# default), which would add up to a second to every start. Probes reconnect quickly instead.
_PROBE_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 20),
    ("grpc.min_reconnect_backoff_ms", 20),
    ("grpc.max_reconnect_backoff_ms", 200),
)


async def wait_serving(address: str, service: str = "", *, poll_s: float = 0.05) -> float:
    """Return once `service` at `address` answers SERVING; the monotonic time it did. Cancel to give up."""
    async with grpc.aio.insecure_channel(address, options=_PROBE_OPTIONS) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                answer = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1.0)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return time.monotonic()
            except grpc.aio.AioRpcError:
                pass  # not listening yet, or still starting
            await asyncio.sleep(poll_s)


async def probe(address: str, service: str = "", *, timeout_s: float = 2.0) -> str:
    """The health status name of `service` at `address` (SERVING, NOT_SERVING, SERVICE_UNKNOWN) or UNREACHABLE."""
    async with grpc.aio.insecure_channel(address, options=_PROBE_OPTIONS) as channel:
        try:
            answer = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout_s
            )
        except grpc.aio.AioRpcError as error:
            # NOT_FOUND is how grpc.health.v1's Check says it does not know the service.
            return "SERVICE_UNKNOWN" if error.code() is grpc.StatusCode.NOT_FOUND else UNREACHABLE
    return health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)

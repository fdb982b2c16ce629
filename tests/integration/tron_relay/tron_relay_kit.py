"""Helpers for tron-relay's integration tests: a real relay over gRPC, a real devnet, a real redis-server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fixtures.service_processes import DEVNET_WITHOUT_TOR_FIELDS
from lucid.tron.v1 import relay_pb2_grpc
from lucid_tron.devnet import Devnet
from lucid_tron.mesh import MeshServer, serving
from lucid_tron.services.tron_relay.__main__ import REDIS_HEALTH_NAME, TOR_HEALTH_NAME, RelaySettings, build


@dataclass
class RunningRelay:
    server: MeshServer
    channel: grpc.aio.Channel
    stub: relay_pb2_grpc.RelayServiceStub

    async def health(self, service: str = "") -> int:
        answer = await health_pb2_grpc.HealthStub(self.channel).Check(health_pb2.HealthCheckRequest(service=service))
        return answer.status

    async def redis_health(self) -> int:
        return await self.health(REDIS_HEALTH_NAME)

    async def tor_health(self) -> int:
        return await self.health(TOR_HEALTH_NAME)


@contextlib.asynccontextmanager
async def start_relay(devnet: Devnet, redis_url: str, **settings: Any) -> AsyncIterator[RunningRelay]:
    """A relay in front of `devnet`, Tor off unless `settings` set Tor's (RelaySettings field names)."""
    # Devnet runs on loopback: Tor off, as `lucid-tron up` runs it (tor_proxy logs it as a WARNING).
    settings = {"trongrid_timeout_s": 5.0, **DEVNET_WITHOUT_TOR_FIELDS, **settings}
    config = RelaySettings(port=0, insecure_plaintext=True, trongrid_url=devnet.url, redis_url=redis_url, **settings)
    async with serving(build(config), config) as server:
        async with grpc.aio.insecure_channel(server.address) as channel:
            yield RunningRelay(server, channel, relay_pb2_grpc.RelayServiceStub(channel))


def seconds(value: float) -> Duration:
    duration = Duration()
    duration.FromNanoseconds(round(value * 1e9))
    return duration


def age_s(cache: Any) -> float:
    return cache.age.ToNanoseconds() / 1e9

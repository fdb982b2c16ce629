"""The four services on MongoDB (usdt-manager, staking, payment-gateway, payout-router) share one shape: each starts
on a real MongoDB-wire server (and redis-server), is SERVING while MongoDB answers and NOT_SERVING while it does not,
reports Redis (where it uses it) as a soft dependency, and answers UNIMPLEMENTED for every RPC until its issue fills
it in (staking's).

Peers are configured at addresses nobody listens on: no peer is called at start.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lucid_tron.cli._config import settings_type_of
from lucid_tron.mesh import MeshServer, serving
from lucid_tron.testing import MongoServer, RedisServer, free_port

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
#: Mainnet's USDT contract; any valid TRON address would do, none is called.
USDT_CONTRACT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
CHECK_INTERVAL_S = 0.1

SKELETONS = ["usdt_manager", "staking", "payment_gateway", "payout_router"]
WITH_REDIS = ["payment_gateway", "payout_router"]
#: The others' RPCs are implemented (tests/integration/usdt_manager, payment_gateway, payout_router).
UNIMPLEMENTED = ["staking"]
#: RPCs of UNIMPLEMENTED services that are implemented already (tests/integration/staking).
IMPLEMENTED = {"CreateEnergyPlan", "GetEnergyPlan", "CompleteEnergyPlan"}


@dataclasses.dataclass
class Running:
    server: MeshServer
    channel: grpc.aio.Channel
    service: ServiceDescriptor

    async def health(self, service: str = "") -> int:
        request = health_pb2.HealthCheckRequest(service=service)
        return (await health_pb2_grpc.HealthStub(self.channel).Check(request)).status

    async def health_is(self, expected: int, service: str = "") -> bool:
        return await self.health(service) == expected


@pytest.fixture
async def mongo() -> AsyncIterator[MongoServer]:
    """A MongoDB-wire server of the test's own, since tests kill it."""
    async with MongoServer() as server:
        yield server


@asynccontextmanager
async def start(module: str, mongo_url: str, redis_url: str) -> AsyncIterator[Running]:
    main = importlib.import_module(f"lucid_tron.services.{module}.__main__")
    settings_type = settings_type_of(f"lucid_tron.services.{module}")
    fields = {field.name for field in dataclasses.fields(settings_type)}
    values: dict[str, Any] = {
        "port": 0,
        "insecure_plaintext": True,
        "mongo_url": mongo_url,
        "dependency_check_interval_s": CHECK_INTERVAL_S,
        **{name: f"127.0.0.1:{free_port()}" for name in fields if name.endswith("_addr")},
    }
    if "redis_url" in fields:
        values["redis_url"] = redis_url
    if "usdt_contract" in fields:
        values["usdt_contract"] = USDT_CONTRACT
    settings = settings_type(**values)
    spec = main.build(settings)
    async with serving(spec, settings) as server, grpc.aio.insecure_channel(server.address) as channel:
        registration = spec.services[0]  # the service's own API (payment-gateway serves WebhookService too)
        yield Running(server, channel, descriptor_pool.Default().FindServiceByName(registration.name))


async def until(condition: Callable[[], Awaitable[bool]], timeout_s: float = 15.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not await condition():
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("module", SKELETONS)
async def test_the_service_is_serving_while_mongodb_answers(module: str, mongo: MongoServer, redis_url: str) -> None:
    async with start(module, mongo.url, redis_url) as running:
        assert await running.health() == SERVING
        assert await running.health(running.service.full_name) == SERVING


@pytest.mark.parametrize("module", SKELETONS)
async def test_the_service_is_not_serving_while_mongodb_is_down_and_serving_again_when_it_is_back(
    module: str, mongo: MongoServer, redis_url: str
) -> None:
    async with start(module, mongo.url, redis_url) as running:
        mongo.kill()
        await until(lambda: running.health_is(NOT_SERVING))
        await asyncio.to_thread(mongo.start)
        await until(lambda: running.health_is(SERVING))


@pytest.mark.parametrize("module", SKELETONS)
async def test_the_service_starts_not_serving_when_mongodb_is_down(module: str, redis_url: str) -> None:
    async with start(module, f"mongodb://127.0.0.1:{free_port()}/?directConnection=true", redis_url) as running:
        assert await running.health() == NOT_SERVING


@pytest.mark.parametrize("module", WITH_REDIS)
async def test_redis_down_is_reported_under_its_own_name_and_the_service_stays_serving(
    module: str, mongo: MongoServer
) -> None:
    async with RedisServer() as redis, start(module, mongo.url, redis.url) as running:
        assert await running.health("redis") == SERVING
        redis.kill()
        await until(lambda: running.health_is(NOT_SERVING, "redis"))
        assert await running.health() == SERVING


@pytest.mark.parametrize("module", UNIMPLEMENTED)
async def test_every_rpc_answers_unimplemented(module: str, mongo: MongoServer, redis_url: str) -> None:
    async with start(module, mongo.url, redis_url) as running:
        for method in running.service.methods:
            if method.name in IMPLEMENTED:
                continue
            path = f"/{running.service.full_name}/{method.name}"
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                if method.server_streaming:
                    async for _ in running.channel.unary_stream(path)(b"", timeout=5):
                        pass
                else:
                    await running.channel.unary_unary(path)(b"", timeout=5)
            assert caught.value.code() is grpc.StatusCode.UNIMPLEMENTED, path
            assert method.name in (caught.value.details() or "")

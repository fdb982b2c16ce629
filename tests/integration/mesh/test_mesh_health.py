"""grpc.health.v1 answers for "" and every service, follows dependencies, and goes NOT_SERVING first at shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from integration.mesh.mesh_testkit import generic_service, unary_unary
from lucid_tron.mesh import Dependency, Health, HealthReporter, MeshServer, ServiceSettings, ServiceSpec, serving

SERVICE = "test.mesh.Payments"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN


async def pong(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    return b"pong"


def spec(**hooks: Any) -> ServiceSpec:
    return ServiceSpec(name="health-test", services=[generic_service(SERVICE, {"Ping": unary_unary(pong)})], **hooks)


@pytest.fixture
async def server() -> AsyncIterator[MeshServer]:
    async with serving(spec(), ServiceSettings(port=0, insecure_plaintext=True, shutdown_grace_s=2.0)) as running:
        yield running


async def check(address: str, service: str) -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        response = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service))
        return response.status


@pytest.mark.parametrize("service", ["", SERVICE])
async def test_check_reports_serving_for_the_process_and_each_service(server: MeshServer, service: str) -> None:
    assert await check(server.address, service) == SERVING


async def test_check_for_an_unknown_service_is_not_found(server: MeshServer) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await check(server.address, "test.mesh.Nope")
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("service", ["", SERVICE])
async def test_watch_sees_not_serving_as_soon_as_shutdown_starts(server: MeshServer, service: str) -> None:
    async with grpc.aio.insecure_channel(server.address) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=service))
        assert (await watch.read()).status == SERVING
        stopping = asyncio.ensure_future(server.shutdown())
        assert (await watch.read()).status == NOT_SERVING
        await stopping


async def test_watch_streams_end_at_shutdown_instead_of_holding_the_grace_period(server: MeshServer) -> None:
    async with grpc.aio.insecure_channel(server.address) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=SERVICE))
        assert (await watch.read()).status == SERVING
        loop = asyncio.get_running_loop()
        started = loop.time()
        await server.shutdown()
        assert loop.time() - started < 1.0  # the grace period is 2 s
        statuses = []
        while (response := await watch.read()) is not grpc.aio.EOF:
            statuses.append(response.status)
        assert statuses[-1] == NOT_SERVING
        assert await watch.code() is grpc.StatusCode.OK


@pytest.mark.parametrize("service", [SERVICE, "test.mesh.Nope"])
async def test_watch_streams_already_not_serving_end_at_shutdown_too(server: MeshServer, service: str) -> None:
    await server.health.reporter("tor").set_serving(False, "no circuit")
    async with grpc.aio.insecure_channel(server.address) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=service))
        first = (await watch.read()).status
        assert first in (NOT_SERVING, SERVICE_UNKNOWN)
        await asyncio.wait_for(server.shutdown(), timeout=1.0)  # the grace period is 2 s
        assert await watch.read() is grpc.aio.EOF
        assert await watch.code() is grpc.StatusCode.OK


async def test_watch_of_an_unknown_service_reports_service_unknown(server: MeshServer) -> None:
    async with grpc.aio.insecure_channel(server.address) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service="test.mesh.Nope"))
        assert (await watch.read()).status == SERVICE_UNKNOWN
        watch.cancel()


async def test_a_dependency_down_makes_the_process_not_serving_until_it_is_back(server: MeshServer) -> None:
    tor = server.health.reporter("tor")
    await tor.set_serving(False, "no circuit")
    assert await check(server.address, "") == NOT_SERVING
    assert await check(server.address, SERVICE) == NOT_SERVING
    await tor.set_serving(True)
    assert await check(server.address, SERVICE) == SERVING


async def test_the_process_serves_only_when_every_dependency_is_up(server: MeshServer) -> None:
    tor, mongodb = server.health.reporter("tor"), server.health.reporter("mongodb")
    await tor.set_serving(False, "no circuit")
    await mongodb.set_serving(False, "connection refused")
    await mongodb.set_serving(True)
    assert await check(server.address, SERVICE) == NOT_SERVING
    await tor.set_serving(True)
    assert await check(server.address, SERVICE) == SERVING


async def test_a_dependency_reported_down_during_start_keeps_the_process_not_serving() -> None:
    async def tor_not_ready(health: Health) -> None:
        await health.reporter("tor").set_serving(False, "bootstrapping 40%")

    async with serving(spec(on_start=[tor_not_ready]), ServiceSettings(port=0, insecure_plaintext=True)) as running:
        assert await check(running.address, "") == NOT_SERVING


async def test_a_dependency_cannot_bring_health_back_after_shutdown_started(server: MeshServer) -> None:
    await server.shutdown()
    await server.health.reporter("tor").set_serving(True)
    assert not server.health.serving


async def test_hooks_run_in_order_start_before_serving_stop_after_the_server_stopped() -> None:
    events: list[str] = []

    async def open_store(health: Health) -> None:
        events.append("open store")

    async def close_store() -> None:
        events.append("close store")

    async def failing_close() -> None:
        events.append("failing close")
        raise RuntimeError("already closed")

    hooks = spec(on_start=[open_store], on_stop=[failing_close, close_store])
    async with serving(hooks, ServiceSettings(port=0, insecure_plaintext=True)) as running:
        events.append("serving")
        assert await check(running.address, "") == SERVING
    assert events == ["open store", "serving", "failing close", "close store"]


async def test_a_failing_start_hook_stops_everything_and_frees_the_port() -> None:
    events: list[str] = []

    async def broken(health: Health) -> None:
        raise ConnectionError("MongoDB refused")

    async def close_store() -> None:
        events.append("close store")

    with pytest.raises(ConnectionError):
        settings = ServiceSettings(port=0, insecure_plaintext=True)
        async with serving(spec(on_start=[broken], on_stop=[close_store]), settings):
            pytest.fail("the block must not run")
    assert events == ["close store"]


async def test_two_servers_cannot_share_a_port(server: MeshServer) -> None:
    with pytest.raises(RuntimeError):
        async with serving(spec(), ServiceSettings(port=server.port, insecure_plaintext=True)):
            pytest.fail("the block must not run")


async def test_a_soft_dependency_down_is_reported_under_its_own_name_and_the_process_stays_serving(
    server: MeshServer,
) -> None:
    redis = server.health.soft.reporter("redis")
    await redis.set_serving(False, "connection refused")
    assert (await check(server.address, "redis"), await check(server.address, SERVICE)) == (NOT_SERVING, SERVING)
    await redis.set_serving(True)
    assert await check(server.address, "redis") == SERVING


class Switch:
    """A probe whose answer the test sets, counting how often it was asked."""

    def __init__(self, up: bool = True) -> None:
        self.up = up
        self.probes = 0

    async def __call__(self) -> bool:
        self.probes += 1
        return self.up


async def until(condition: Any, timeout_s: float = 3.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not await condition():
            await asyncio.sleep(0.01)


async def status_is(address: str, service: str, expected: int) -> bool:
    return await check(address, service) == expected


async def test_a_watched_dependency_down_at_start_keeps_the_process_not_serving() -> None:
    async def watch_mongodb(health: Health) -> None:
        await health.watch(health.reporter("mongodb"), Switch(up=False), interval_s=60)

    async with serving(spec(on_start=[watch_mongodb]), ServiceSettings(port=0, insecure_plaintext=True)) as running:
        assert await check(running.address, "") == NOT_SERVING


async def test_a_watched_dependency_takes_the_process_down_and_back_up_as_its_probe_answers() -> None:
    mongodb = Switch()

    async def watch_mongodb(health: Health) -> None:
        await health.watch(health.reporter("mongodb"), mongodb, interval_s=0.02)

    async with serving(spec(on_start=[watch_mongodb]), ServiceSettings(port=0, insecure_plaintext=True)) as running:
        assert await check(running.address, SERVICE) == SERVING
        mongodb.up = False
        await until(lambda: status_is(running.address, SERVICE, NOT_SERVING))
        mongodb.up = True
        await until(lambda: status_is(running.address, SERVICE, SERVING))


async def test_a_watched_soft_dependency_is_reported_under_its_own_name_only() -> None:
    redis = Switch(up=False)

    async def watch_redis(health: Health) -> None:
        await health.watch(health.soft.reporter("redis"), redis, interval_s=60)

    async with serving(spec(on_start=[watch_redis]), ServiceSettings(port=0, insecure_plaintext=True)) as running:
        assert (await check(running.address, "redis"), await check(running.address, "")) == (NOT_SERVING, SERVING)


async def test_a_probe_that_raises_counts_as_the_dependency_down() -> None:
    async def broken_probe() -> bool:
        raise OSError("socket closed")

    async def watch(health: Health) -> None:
        await health.watch(health.reporter("mongodb"), broken_probe, interval_s=60)

    async with serving(spec(on_start=[watch]), ServiceSettings(port=0, insecure_plaintext=True)) as running:
        assert await check(running.address, "") == NOT_SERVING


async def test_watchers_stop_probing_once_shutdown_begins() -> None:
    mongodb = Switch()

    async def watch_mongodb(health: Health) -> None:
        await health.watch(health.reporter("mongodb"), mongodb, interval_s=0.01)

    async with serving(spec(on_start=[watch_mongodb]), ServiceSettings(port=0, insecure_plaintext=True)) as running:
        await until(lambda: _after(mongodb, 3))
        await running.shutdown()
        probes_at_shutdown = mongodb.probes
        await asyncio.sleep(0.1)
    assert mongodb.probes == probes_at_shutdown


async def test_a_reporter_made_before_the_process_had_a_health_reports_through_it_once_watched() -> None:
    redis = HealthReporter("redis", soft=True)  # e.g. handed to a store when the service is built

    async def watch_redis(health: Health) -> None:
        await health.watch(redis, Switch(up=False), interval_s=60)

    async with serving(spec(on_start=[watch_redis]), ServiceSettings(port=0, insecure_plaintext=True)) as running:
        assert await check(running.address, "redis") == NOT_SERVING
        await redis.set_serving(True)
        assert await check(running.address, "redis") == SERVING


async def _after(switch: Switch, probes: int) -> bool:
    return switch.probes >= probes


async def test_a_declared_hard_dependency_is_opened_then_watched_at_the_configured_interval() -> None:
    mongodb = Switch()
    opened: list[int] = []

    async def open_store() -> None:
        opened.append(mongodb.probes)

    declared = spec(dependencies=[Dependency("mongodb", mongodb, open=open_store)])
    settings = ServiceSettings(port=0, insecure_plaintext=True, dependency_check_interval_s=0.05)
    async with serving(declared, settings) as running:
        assert opened == [0]  # opened once, before the first probe
        assert await check(running.address, SERVICE) == SERVING
        mongodb.up = False
        await until(lambda: status_is(running.address, SERVICE, NOT_SERVING))
        mongodb.up = True
        await until(lambda: status_is(running.address, SERVICE, SERVING))


async def test_a_declared_soft_dependency_is_reported_under_its_own_name_only() -> None:
    declared = spec(dependencies=[Dependency("redis", Switch(up=False), soft=True)])
    async with serving(declared, ServiceSettings(port=0, insecure_plaintext=True)) as running:
        assert (await check(running.address, "redis"), await check(running.address, "")) == (NOT_SERVING, SERVING)


async def test_shutdown_ends_a_watcher_whose_probe_swallows_the_cancellation() -> None:
    probing = asyncio.Event()
    probes = 0

    async def probe_that_swallows_cancellation() -> bool:
        nonlocal probes
        probes += 1
        if probes == 1:
            return True  # the probe at start
        # As a client library may: the cancellation that shutdown sends arrives here and is caught.
        probing.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            return False
        return True

    async def watch(health: Health) -> None:
        await health.watch(health.reporter("mongodb"), probe_that_swallows_cancellation, interval_s=0.01)

    async with serving(spec(on_start=[watch]), ServiceSettings(port=0, insecure_plaintext=True)) as running:
        await asyncio.wait_for(probing.wait(), 5)
        await asyncio.wait_for(running.shutdown(), 5)

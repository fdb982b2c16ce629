"""With METRICS_PORT a service serves Prometheus metrics: its RPCs by method and code, their latency, the calls in
flight, its health and its dependencies', and the domain counters it declares. Health checks and reflection are
not counted. Scraped over real HTTP from the endpoint the service opened, after real calls over a real channel.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from integration.mesh.mesh_testkit import generic_service, unary_unary
from lucid_tron import errors
from lucid_tron.mesh import Health, MeshServer, ServiceSettings, ServiceSpec, metrics, serving

SERVICE = "test.mesh.Metered"
WORK_DONE = metrics.counter("test_mesh_work_done_total", "Work items a test handler finished", ["kind"])


@dataclass
class Metered:
    server: MeshServer
    channel: grpc.aio.Channel
    release: asyncio.Event
    health: Health


@pytest.fixture
async def metered() -> AsyncIterator[Metered]:
    release = asyncio.Event()

    async def ok(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        WORK_DONE.labels("ok").inc()
        return b"ok"

    async def not_found(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        raise errors.NotFound("invoice", "inv_1")

    async def bug(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        raise ZeroDivisionError

    async def held(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        await release.wait()
        return b"released"

    reporters: list[Health] = []

    async def watch_mongodb(health: Health) -> None:
        reporters.append(health)
        await health.reporter("mongodb").set_serving(True)
        await health.reporter("redis").set_serving(False, "connection refused")

    methods = {"Ok": unary_unary(ok), "NotFound": unary_unary(not_found), "Bug": unary_unary(bug)}
    spec = ServiceSpec(
        name="metered",
        services=[generic_service(SERVICE, methods | {"Held": unary_unary(held)})],
        on_start=[watch_mongodb],
    )
    async with (
        serving(spec, ServiceSettings(port=0, insecure_plaintext=True, metrics_port=0)) as server,
        grpc.aio.insecure_channel(server.address) as channel,
    ):
        yield Metered(server, channel, release, reporters[0])
        release.set()


async def scrape(server: MeshServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the endpoint: (name, sorted labels) -> value."""
    assert server.metrics_address is not None
    url = f"http://{server.metrics_address}/metrics"

    def get() -> str:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()

    text = await asyncio.to_thread(get)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def handled(samples: dict[Any, float], method: str, code: str) -> float:
    labels = (("grpc_code", code), ("grpc_method", method), ("grpc_service", SERVICE))
    return samples.get(("grpc_server_handled_total", labels), 0.0)


async def call(channel: grpc.aio.Channel, method: str) -> None:
    try:
        await channel.unary_unary(f"/{SERVICE}/{method}")(b"")
    except grpc.aio.AioRpcError:
        pass


async def test_rpcs_are_counted_by_method_and_status_code(metered: Metered) -> None:
    for method in ("Ok", "Ok", "Ok", "NotFound", "Bug"):
        await call(metered.channel, method)

    samples = await scrape(metered.server)

    assert handled(samples, "Ok", "OK") == 3
    assert handled(samples, "NotFound", "NOT_FOUND") == 1
    assert handled(samples, "Bug", "INTERNAL") == 1
    assert handled(samples, "Ok", "NOT_FOUND") == 0


async def test_each_rpc_is_observed_in_the_latency_histogram(metered: Metered) -> None:
    for _ in range(4):
        await call(metered.channel, "Ok")

    samples = await scrape(metered.server)

    labels = (("grpc_method", "Ok"), ("grpc_service", SERVICE))
    assert samples[("grpc_server_handling_seconds_count", labels)] == 4
    assert samples[("grpc_server_handling_seconds_bucket", (*labels, ("le", "+Inf")))] == 4
    assert 0 < samples[("grpc_server_handling_seconds_sum", labels)] < 4 * 1.0


async def test_calls_in_flight_are_gauged(metered: Metered) -> None:
    held = [asyncio.ensure_future(call(metered.channel, "Held")) for _ in range(2)]
    labels = (("grpc_method", "Held"), ("grpc_service", SERVICE))
    for _ in range(100):
        if (await scrape(metered.server)).get(("grpc_server_in_flight", labels)) == 2:
            break
        await asyncio.sleep(0.02)
    assert (await scrape(metered.server))[("grpc_server_in_flight", labels)] == 2

    metered.release.set()
    await asyncio.gather(*held)
    assert (await scrape(metered.server))[("grpc_server_in_flight", labels)] == 0


async def test_health_checks_are_not_counted(metered: Metered) -> None:
    health = health_pb2_grpc.HealthStub(metered.channel)
    for _ in range(3):
        await health.Check(health_pb2.HealthCheckRequest())

    samples = await scrape(metered.server)

    services = {dict(labels).get("grpc_service") for name, labels in samples if name.startswith("grpc_server_")}
    assert "grpc.health.v1.Health" not in services


async def test_each_dependency_has_a_gauge_and_the_process_its_serving_state(metered: Metered) -> None:
    samples = await scrape(metered.server)
    assert samples[("lucid_dependency_up", (("dependency", "mongodb"),))] == 1
    assert samples[("lucid_dependency_up", (("dependency", "redis"),))] == 0
    assert samples[("lucid_serving", ())] == 0  # redis is reported down

    await metered.health.reporter("redis").set_serving(True)

    samples = await scrape(metered.server)
    assert samples[("lucid_dependency_up", (("dependency", "redis"),))] == 1
    assert samples[("lucid_serving", ())] == 1


async def test_domain_counters_are_served_beside_the_runtimes_metrics(metered: Metered) -> None:
    before = (await scrape(metered.server)).get(("test_mesh_work_done_total", (("kind", "ok"),)), 0.0)
    await call(metered.channel, "Ok")
    after = (await scrape(metered.server))[("test_mesh_work_done_total", (("kind", "ok"),))]
    assert after == before + 1


async def test_a_counter_kept_elsewhere_is_read_when_scraped(metered: Metered) -> None:
    rotations = [0]
    metrics.counter_from("test_mesh_rotations_total", "Rotations a test library keeps", lambda: rotations[0])
    rotations[0] = 7
    assert (await scrape(metered.server))[("test_mesh_rotations_total", ())] == 7


async def test_without_metrics_port_there_is_no_endpoint() -> None:
    spec = ServiceSpec(name="unmetered", services=[])
    async with serving(spec, ServiceSettings(port=0, insecure_plaintext=True)) as server:
        assert server.metrics is None and server.metrics_address is None

"""tron-relay as a process: starts from its environment, answers, reports Redis under its own health name, stops on
SIGTERM, and refuses a configuration it cannot use (exit 78). Its idle memory is measured by bench/."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fixtures.service_processes import DEVNET_WITHOUT_TOR, run_to_exit, start_service_process
from lucid.tron.v1 import relay_pb2 as pb
from lucid.tron.v1 import relay_pb2_grpc
from lucid_tron.mesh import EXIT_CONFIG

MODULE = "lucid_tron.services.tron_relay"


@pytest.fixture
async def relay_process(devnet, relay_redis_url, tmp_path: Path):
    service = await start_service_process(
        MODULE, tmp_path, TRONGRID_URL=devnet.url, REDIS_URL=relay_redis_url, **DEVNET_WITHOUT_TOR
    )
    yield service
    await service.stop()


async def test_the_process_serves_and_stops_on_sigterm(relay_process):
    async with grpc.aio.insecure_channel(relay_process.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        process_health = await health.Check(health_pb2.HealthCheckRequest(service="lucid.tron.v1.RelayService"))
        redis_health = await health.Check(health_pb2.HealthCheckRequest(service="redis"))
        answer = await relay_pb2_grpc.RelayServiceStub(channel).GetNowBlock(pb.RelayServiceGetNowBlockRequest())

    assert process_health.status == redis_health.status == health_pb2.HealthCheckResponse.SERVING
    assert answer.block.solidified and not answer.cache.from_cache
    assert await relay_process.stop() == 0


async def test_without_redis_url_the_process_exits_78_naming_it(devnet, tmp_path: Path):
    code, stderr = await run_to_exit(MODULE, tmp_path, TRONGRID_URL=devnet.url, **DEVNET_WITHOUT_TOR)
    assert code == EXIT_CONFIG and "REDIS_URL: required" in stderr


async def test_a_cache_ttl_that_is_not_a_positive_number_exits_78_naming_it(devnet, relay_redis_url, tmp_path: Path):
    code, stderr = await run_to_exit(
        MODULE, tmp_path, TRONGRID_URL=devnet.url, REDIS_URL=relay_redis_url, CACHE_TTL_HEAD_BLOCK_S="0",
        CACHE_TTL_ACCOUNT_S="soon", **DEVNET_WITHOUT_TOR,
    )  # fmt: skip
    assert code == EXIT_CONFIG and "CACHE_TTL_HEAD_BLOCK_S" in stderr and "CACHE_TTL_ACCOUNT_S" in stderr

"""tron-client as a process: starts from its environment, answers, stops on SIGTERM, and refuses a configuration it
cannot use (exit 78). Its idle memory is measured by bench/, against the 60 MB budget."""

from __future__ import annotations

from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fixtures.service_processes import DEVNET_WITHOUT_TOR, run_to_exit, start_service_process
from lucid.tron.v1 import tron_client_pb2 as pb
from lucid.tron.v1 import tron_client_pb2_grpc
from lucid_tron.mesh import EXIT_CONFIG
from lucid_tron.testing import free_port

MODULE = "lucid_tron.services.tron_client"


async def test_the_process_serves_and_stops_on_sigterm(devnet, tmp_path: Path):
    service = await start_service_process(MODULE, tmp_path, TRONGRID_URL=devnet.url, **DEVNET_WITHOUT_TOR)
    try:
        async with grpc.aio.insecure_channel(service.address) as channel:
            health = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="lucid.tron.v1.TronClientService")
            )
            stub = tron_client_pb2_grpc.TronClientServiceStub(channel)
            block = (await stub.GetNowBlock(pb.GetNowBlockRequest())).block
    finally:
        exit_code = await service.stop()

    assert health.status == health_pb2.HealthCheckResponse.SERVING and block.solidified
    assert exit_code == 0
    # Tor off is an explicit decision, and it is logged as one.
    assert any(line["level"] == "WARNING" and "Tor is OFF" in line["msg"] for line in service.log)


async def test_without_trongrid_url_the_process_exits_78_naming_it(tmp_path: Path):
    code, stderr = await run_to_exit(MODULE, tmp_path, **DEVNET_WITHOUT_TOR)
    assert code == EXIT_CONFIG and "TRONGRID_URL: required" in stderr


async def test_turning_tor_off_without_allowing_direct_calls_exits_78(tmp_path: Path):
    code, stderr = await run_to_exit(
        MODULE, tmp_path, TRONGRID_URL="http://127.0.0.1:1", USE_TOR_FOR_EXTERNAL_CALLS="false"
    )
    assert code == EXIT_CONFIG and "ALLOW_DIRECT_EXTERNAL_CALLS" in stderr


async def test_plain_http_trongrid_while_tor_is_required_exits_78_naming_it(tmp_path: Path):
    # An exit node would read the API key and could forge receipts: refused before anything is sent.
    code, stderr = await run_to_exit(MODULE, tmp_path, TRONGRID_URL="http://api.trongrid.io", TRONGRID_API_KEY="k")
    assert code == EXIT_CONFIG
    assert "TRONGRID_URL: plain http:// to api.trongrid.io while Tor is required" in stderr


async def test_with_tor_required_and_down_it_is_not_serving_and_reads_fail_closed(devnet, tmp_path: Path):
    # The default: Tor required, here pointed at a port nothing listens on. Nothing may go out directly.
    service = await start_service_process(
        MODULE, tmp_path, TRONGRID_URL=devnet.url, TOR_PROXY=f"socks5h://127.0.0.1:{free_port()}"
    )
    code = None
    try:
        requests = devnet.faults.add()
        async with grpc.aio.insecure_channel(service.address) as channel:
            health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
            stub = tron_client_pb2_grpc.TronClientServiceStub(channel)
            try:
                await stub.GetNowBlock(pb.GetNowBlockRequest(), timeout=3)
            except grpc.aio.AioRpcError as error:
                code = error.code()
    finally:
        await service.stop()

    assert health.status == health_pb2.HealthCheckResponse.NOT_SERVING
    assert code == grpc.StatusCode.UNAVAILABLE and requests.matched == 0

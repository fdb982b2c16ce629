"""Server reflection lists the services, health and reflection, so grpcurl and buf curl need no proto files."""

from __future__ import annotations

from typing import Any

import grpc
from grpc_health.v1 import health
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

from integration.mesh.mesh_testkit import generic_service, unary_unary
from lucid_tron.mesh import ServiceSettings, ServiceSpec, serving


async def pong(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    return b"pong"


async def test_reflection_lists_every_registered_service_with_health_and_reflection() -> None:
    spec = ServiceSpec(
        name="reflection-test",
        services=[
            generic_service("test.mesh.Invoices", {"Ping": unary_unary(pong)}),
            generic_service("test.mesh.Payouts", {"Ping": unary_unary(pong)}),
        ],
    )
    async with (
        serving(spec, ServiceSettings(port=0, insecure_plaintext=True)) as server,
        grpc.aio.insecure_channel(server.address) as channel,
    ):
        stream = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo()
        await stream.write(reflection_pb2.ServerReflectionRequest(list_services=""))
        response = await stream.read()
        await stream.done_writing()
    assert sorted(service.name for service in response.list_services_response.service) == sorted(
        ["test.mesh.Invoices", "test.mesh.Payouts", health.SERVICE_NAME, reflection.SERVICE_NAME]
    )


async def test_reflection_describes_the_health_service() -> None:
    async with (
        serving(
            ServiceSpec(name="reflection-test", services=[]), ServiceSettings(port=0, insecure_plaintext=True)
        ) as server,
        grpc.aio.insecure_channel(server.address) as channel,
    ):
        stream = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo()
        await stream.write(reflection_pb2.ServerReflectionRequest(file_containing_symbol=health.SERVICE_NAME))
        response = await stream.read()
        await stream.done_writing()
    assert response.WhichOneof("message_response") == "file_descriptor_response"
    assert response.file_descriptor_response.file_descriptor_proto

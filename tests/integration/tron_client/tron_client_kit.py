"""Helpers for tron-client's integration tests: a real tron-client over gRPC in front of a real devnet."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc

from fixtures.service_processes import DEVNET_WITHOUT_TOR_FIELDS
from lucid.tron.v1 import tron_client_pb2, tron_client_pb2_grpc
from lucid_tron.chain import protocol
from lucid_tron.devnet import Devnet
from lucid_tron.mesh import MeshServer, serving
from lucid_tron.services.tron_client.__main__ import TronClientSettings, build


@dataclass
class RunningClient:
    server: MeshServer
    channel: grpc.aio.Channel
    stub: tron_client_pb2_grpc.TronClientServiceStub


@contextlib.asynccontextmanager
async def start_tron_client(devnet: Devnet, **settings: Any) -> AsyncIterator[RunningClient]:
    # Devnet runs on loopback: Tor off, as `lucid-tron up` runs it (tor_proxy logs it as a WARNING).
    settings = {"trongrid_timeout_s": 5.0, **DEVNET_WITHOUT_TOR_FIELDS, **settings}
    config = TronClientSettings(port=0, insecure_plaintext=True, trongrid_url=devnet.url, **settings)
    async with serving(build(config), config) as server:
        async with grpc.aio.insecure_channel(server.address) as channel:
            yield RunningClient(server, channel, tron_client_pb2_grpc.TronClientServiceStub(channel))


def broadcast_request(tx: protocol.Transaction, **fields: Any) -> tron_client_pb2.BroadcastTransactionRequest:
    """The BroadcastTransaction request of a signed transaction; `fields` replace or add to it."""
    values: dict[str, Any] = {"raw_data": tx.raw_data.SerializeToString(), "signatures": list(tx.signature)}
    values.update(fields)
    return tron_client_pb2.BroadcastTransactionRequest(**values)

"""Helpers for tron-client's integration tests: a real tron-client over gRPC in front of a real devnet."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.rpc import error_details_pb2

from integration.mesh.mesh_testkit import details_of, rich_status
from lucid.tron.v1 import tron_client_pb2, tron_client_pb2_grpc
from lucid_tron.chain import PrivateKey, build_transaction, protocol, sign_transaction
from lucid_tron.devnet import Devnet, FaultRule
from lucid_tron.mesh import MeshServer, serving
from lucid_tron.services.tron_client.__main__ import TronClientSettings, build
from tor_proxy import TorConfig

# Devnet runs on loopback: Tor off, as `lucid-tron up` runs it (USE_TOR_FOR_EXTERNAL_CALLS=false plus
# ALLOW_DIRECT_EXTERNAL_CALLS=true), which tor_proxy logs as a WARNING.
DIRECT = TorConfig(direct=True)


@dataclass
class RunningClient:
    server: MeshServer
    channel: grpc.aio.Channel
    stub: tron_client_pb2_grpc.TronClientServiceStub


@contextlib.asynccontextmanager
async def start_tron_client(devnet: Devnet, **settings: Any) -> AsyncIterator[RunningClient]:
    settings.setdefault("trongrid_timeout_s", 5.0)
    config = TronClientSettings(port=0, trongrid_url=devnet.url, **settings)
    async with serving(build(config, tor_config=DIRECT), config) as server:
        async with grpc.aio.insecure_channel(server.address) as channel:
            yield RunningClient(server, channel, tron_client_pb2_grpc.TronClientServiceStub(channel))


def requests_to(devnet: Devnet, path: str) -> FaultRule:
    """A fault rule that injects nothing and counts the requests devnet receives on `path` (`.matched`)."""
    return devnet.faults.add(paths=(path,))


def field_violations(error: grpc.aio.AioRpcError) -> dict[str, str]:
    """The BadRequest field violations of an INVALID_ARGUMENT, field -> description."""
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
    bad_request = details_of(rich_status(error))["BadRequest"]
    assert isinstance(bad_request, error_details_pb2.BadRequest)
    return {v.field: v.description for v in bad_request.field_violations}


def error_reason(error: grpc.aio.AioRpcError) -> str:
    info = details_of(rich_status(error))["ErrorInfo"]
    assert isinstance(info, error_details_pb2.ErrorInfo)
    return info.reason


def signed(
    devnet: Devnet, key: PrivateKey, contract: protocol.Transaction.Contract, **options: Any
) -> protocol.Transaction:
    """`contract` in a transaction referring to devnet's head, signed by `key`."""
    head = devnet.chain.head
    now = int(time.time() * 1000)
    options.setdefault("expiration_ms", now + 60_000)
    options.setdefault("timestamp_ms", now)
    tx = build_transaction(contract, ref_block_number=head.number, ref_block_id=head.id, **options)
    return sign_transaction(tx, key)


def broadcast_request(tx: protocol.Transaction, **fields: Any) -> tron_client_pb2.BroadcastTransactionRequest:
    """The BroadcastTransaction request of a signed transaction; `fields` replace or add to it."""
    values: dict[str, Any] = {"raw_data": tx.raw_data.SerializeToString(), "signatures": list(tx.signature)}
    values.update(fields)
    return tron_client_pb2.BroadcastTransactionRequest(**values)


# -- the service as a process ----------------------------------------------------------------------------------------

DEVNET_WITHOUT_TOR = {"USE_TOR_FOR_EXTERNAL_CALLS": "false", "ALLOW_DIRECT_EXTERNAL_CALLS": "true"}


@dataclass
class ServiceProcess:
    process: asyncio.subprocess.Process
    address: str
    log: list[dict[str, Any]]

    async def stop(self) -> int:
        """SIGTERM, read the rest of the log, and the exit code."""
        if self.process.returncode is None:
            self.process.terminate()
        assert self.process.stderr is not None
        async with asyncio.timeout(15):
            async for line in self.process.stderr:
                self.log.append(json.loads(line))
            return await self.process.wait()


def service_env(tmp_path: Path, **values: str) -> dict[str, str]:
    ours = ("GRPC_", "OTEL_", "LOG_", "TRONGRID_", "REDIS_", "TOR_", "USE_TOR", "ALLOW_DIRECT", "CACHE_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(ours)}
    env.update(SECRETS_DIR=str(tmp_path), GRPC_PORT="0", SHUTDOWN_GRACE_S="2")
    env.update(values)
    return env


async def start_service_process(module: str, tmp_path: Path, **values: str) -> ServiceProcess:
    """`python -m module` with the environment `values`; returns once it logged where it serves."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, env=service_env(tmp_path, **values), stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    log: list[dict[str, Any]] = []
    async with asyncio.timeout(20):
        while "address" not in (log[-1] if log else {}):
            line = await process.stderr.readline()
            assert line, f"{module} exited before serving: {log}"
            log.append(json.loads(line))
    return ServiceProcess(process, log[-1]["address"], log)


async def run_to_exit(module: str, tmp_path: Path, **values: str) -> tuple[int, str]:
    """Run `python -m module` until it exits (a configuration error); its exit code and stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, env=service_env(tmp_path, **values), stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode is not None
    return process.returncode, stderr.decode()

"""`lucid-tron status`: the health of every service listed in `<state-dir>/endpoints.json`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from lucid_tron.cli._endpoints import Endpoints, EndpointsError
from lucid_tron.cli._health import probe
from lucid_tron.cli._services import MESH

__all__ = ["run_status"]

_GRPC_NAMES = {service.name: service.grpc_service for service in MESH}


def run_status(state_dir: Path, *, timeout_s: float = 2.0) -> int:
    """Print each service's health; 0 when all are SERVING, 1 otherwise (or when there is no running mesh)."""
    try:
        endpoints = Endpoints.read(state_dir)
    except EndpointsError as error:
        print(f"lucid-tron status: {error}", file=sys.stderr)
        return 1
    statuses = asyncio.run(_probe_all(endpoints, timeout_s))
    rows = [("SERVICE", "ADDRESS", "HEALTH")]
    rows += [(name, address, statuses[name]) for name, address in endpoints.services.items()]
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    for name, address, status in rows:
        print(f"{name.ljust(widths[0])}  {address.ljust(widths[1])}  {status}")
    print(f"devnet {endpoints.devnet_url} (USDT {endpoints.usdt_contract})")
    serving = sum(status == "SERVING" for status in statuses.values())
    print(f"{serving}/{len(statuses)} SERVING")
    return 0 if serving == len(statuses) else 1


async def _probe_all(endpoints: Endpoints, timeout_s: float) -> dict[str, str]:
    names = list(endpoints.services)
    # The plaintext health port: the service port requires a client certificate. The service's own name, not "":
    # SERVICE_UNKNOWN then shows that another process took its port.
    answers = await asyncio.gather(
        *(probe(endpoints.health[name], _GRPC_NAMES.get(name, ""), timeout_s=timeout_s) for name in names)
    )
    return dict(zip(names, answers, strict=True))

"""A tiny service run as a real process by the mesh's process tests: `python -m integration.mesh.mesh_example_service`.

It is what a service's `__main__.py` looks like: settings that extend ServiceSettings, a build function, `run`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from integration.mesh.mesh_testkit import generic_service, unary_unary
from lucid_tron.mesh import ServiceSettings, ServiceSpec, run, setting

SERVICE = "test.mesh.Example"


@dataclass(frozen=True, kw_only=True)
class ExampleSettings(ServiceSettings):
    slow_call_s: float = setting("EXAMPLE_SLOW_CALL_S", default=1.0, ge=0)
    # Health and reflection only, to measure the runtime's own memory.
    with_service: bool = setting("EXAMPLE_WITH_SERVICE", default=True)
    # The on_stop hook writes here, so a test can see it ran.
    stop_marker: Path | None = setting("EXAMPLE_STOP_MARKER", default=None)


def build(settings: ExampleSettings) -> ServiceSpec:
    async def slow(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        await asyncio.sleep(settings.slow_call_s)
        return b"done"

    async def mark_stopped() -> None:
        if settings.stop_marker is not None:
            settings.stop_marker.write_text("stopped")

    services = [generic_service(SERVICE, {"Slow": unary_unary(slow)})] if settings.with_service else []
    return ServiceSpec(name="example", services=services, on_stop=[mark_stopped])


if __name__ == "__main__":
    run(build, ExampleSettings)

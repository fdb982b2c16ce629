"""beta-sidecar: `python -m lucid_tron.services.beta_sidecar` forwards every call to BACKEND_ADDR, after the ACL.

The Beta sidecar stands on the wallet/ops border in front of wallet-manager: callers of the ops plane reach the
wallet plane only through it. It terminates the caller's mutual TLS (the caller's principal is what its policy
checks: ACL_POLICY_FILE, default the shipped wallet border policy `wallet-sidecar`), and calls the backend with its
own certificate (spiffe://lucid/tron/beta-sidecar), so the backend's policy sees the sidecar, which it lets do only
what the border lets through. It has no API of its own (no servicer, store or messages): `proxy` forwards raw bytes.
Its health: SERVING while the backend answers its health check (a hard dependency, "backend").
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2

from lucid_tron.authz import SIDECAR_POLICY
from lucid_tron.config import setting
from lucid_tron.mesh import Dependency, Registration, ServiceSettings, ServiceSpec, run
from lucid_tron.pki import ClientTls

from .proxy import Backend, Forwarder, known_shapes

NAME = "beta-sidecar"

_HEALTH_CHECK = "/grpc.health.v1.Health/Check"


@dataclass(frozen=True, kw_only=True)
class SidecarSettings(ServiceSettings):
    """The mesh's settings, and the service behind the sidecar."""

    # host:port of the service the sidecar stands in front of (its certificate must name the host).
    backend_addr: str = setting("BACKEND_ADDR")
    # The backend's gRPC service, reported on the sidecar's health while the backend answers.
    backend_service: str = setting("BACKEND_SERVICE", default="lucid.tron.v1.WalletService")


def build(settings: SidecarSettings) -> ServiceSpec:
    files = settings.tls_files
    tls = None if files is None else ClientTls(files)
    backend = Backend(settings.backend_addr, lambda: None if tls is None else tls.credentials)

    def before_call() -> None:
        if tls is not None and tls.changed():
            backend.reopen(tls.credentials)

    async def backend_answers() -> bool:
        check = backend.channel().unary_unary(_HEALTH_CHECK, response_deserializer=health_pb2.HealthCheckResponse.FromString)
        try:
            answer = await check(b"", timeout=settings.dependency_check_interval_s)
        except grpc.aio.AioRpcError:
            return False
        return answer.status == health_pb2.HealthCheckResponse.SERVING  # type: ignore[no-any-return]

    forwarder = Forwarder(backend, known_shapes(), before_call)
    return ServiceSpec(
        name=NAME,
        services=[Registration(_add_forwarder, forwarder, settings.backend_service)],
        dependencies=[Dependency("backend", backend_answers, open=backend.open)],
        on_stop=[backend.close],
        shipped_policy=SIDECAR_POLICY,
    )


def _add_forwarder(forwarder: Forwarder, server: grpc.aio.Server) -> None:
    server.add_generic_rpc_handlers([forwarder])


if __name__ == "__main__":
    run(build, SidecarSettings)

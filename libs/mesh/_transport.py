"""How a server's ports are opened: the service port with mutual TLS (or, only when asked, plaintext), and the
plaintext port that serves grpc.health.v1 and nothing else.

Mutual TLS: the server requires a client certificate issued by the CA bundle (TLS_CA_FILE), so every call that
reaches a handler has a verified caller, whose SPIFFE ID grpc reports as `peer_spiffe_id` in the call's
auth_context. The certificate files are re-read on the first handshake after they change (lucid_tron.pki).
A client without a certificate, or with one the bundle did not issue (self-signed, another CA, expired), fails in
the handshake: no call starts, and the client sees UNAVAILABLE.

The health port exists because Kubernetes' gRPC probes and grpc_health_probe cannot present a client certificate.
It is a second grpc.aio server sharing the process's Health, so both ports always answer the same.
"""

from __future__ import annotations

import logging

import grpc
from grpc_health.v1 import health_pb2_grpc

from lucid_tron.config import ConfigError, Problem
from lucid_tron.mesh._health import Health
from lucid_tron.mesh._service_settings import ServiceSettings
from lucid_tron.pki import TlsFileError, server_credentials

log = logging.getLogger("lucid_tron.mesh.server")

_INSECURE_WARNING = (
    "GRPC_INSECURE_PLAINTEXT=true: serving gRPC in PLAINTEXT without client certificates; any process that can "
    "reach %s can call every method. For tests and development only, never in a deployment."
)


def tls_problems(settings: ServiceSettings) -> list[Problem]:
    """Why the TLS files cannot be used, one Problem per variable; empty when they can (or TLS is off)."""
    files = settings.tls_files
    if files is None:
        return []
    hint = " (issue them with `lucid-tron pki`, or set GRPC_INSECURE_PLAINTEXT=true for plaintext in tests)"
    problems = []
    named = (("TLS_CERT_FILE", files.certificate), ("TLS_KEY_FILE", files.key), ("TLS_CA_FILE", files.ca))
    for variable, path in named:
        try:
            with path.open("rb"):
                pass
        except OSError as error:
            reason = error.strerror or error.__class__.__name__
            problems.append(Problem(variable, f"cannot read {path}: {reason}{hint}"))
    if not problems:
        try:
            files.read()
        except TlsFileError as error:
            problems.append(Problem("TLS_CERT_FILE", str(error)))
    return problems


def open_service_port(server: grpc.aio.Server, settings: ServiceSettings) -> int:
    """Bind GRPC_HOST:GRPC_PORT with mutual TLS, or in plaintext with a WARNING; the port. ConfigError: bad files."""
    files = settings.tls_files
    if files is None:
        port = server.add_insecure_port(settings.bind_address)
        log.warning(_INSECURE_WARNING, f"{settings.bind_address.rsplit(':', 1)[0]}:{port}")
        return port
    problems = tls_problems(settings)
    if problems:
        raise ConfigError(problems)
    return server.add_secure_port(settings.bind_address, server_credentials(files))


def health_server(health: Health, settings: ServiceSettings) -> tuple[grpc.aio.Server, int] | None:
    """A plaintext server of grpc.health.v1 alone on GRPC_HOST:HEALTH_PORT (not started), and its port; None if off."""
    if settings.health_port is None:
        return None
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    health_pb2_grpc.add_HealthServicer_to_server(health.servicer, server)
    address = settings.bind_address.rsplit(":", 1)[0] + f":{settings.health_port}"
    return server, server.add_insecure_port(address)

"""A container health check: `python -m lucid_tron.healthcheck [SERVICE]` asks grpc.health.v1 and exits 0 if SERVING.

Distroless images have no shell and no grpc_health_probe, so compose's healthcheck runs this. It imports only grpc
and the health stubs (not the mesh runtime), so the probe process stays small beside the service it checks. It asks
the plaintext health port (HEALTH_PORT): the service port requires a client certificate, which a probe does not
hold. Without HEALTH_PORT it asks GRPC_PORT, which answers only a service run with GRPC_INSECURE_PLAINTEXT.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

__all__ = ["check", "main"]


def check(target: str, service: str = "", timeout_s: float = 3.0) -> tuple[bool, str]:
    """Ask `target`'s health service (plaintext) about `service`; (serving, reason)."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout_s
            )
        except grpc.RpcError as error:
            return False, f"{error.code().name}: {error.details()}"
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
    return answer.status == health_pb2.HealthCheckResponse.SERVING, status


def _default_port() -> int:
    return int(os.environ.get("HEALTH_PORT") or os.environ.get("GRPC_PORT") or 50051)


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status 0 only when the service answers SERVING; otherwise 1, with the reason on stderr."""
    parser = argparse.ArgumentParser(prog="python -m lucid_tron.healthcheck", description=main.__doc__)
    parser.add_argument("service", nargs="?", default="", help='gRPC service name to ask about (default: "")')
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=_default_port(), help="default: $HEALTH_PORT, else $GRPC_PORT, else 50051"
    )
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds (default 3)")
    args = parser.parse_args(argv)
    serving, reason = check(f"{args.host}:{args.port}", args.service, args.timeout)
    if not serving:
        print(f"healthcheck: {args.service or '(server)'} at {args.host}:{args.port}: {reason}", file=sys.stderr)
    return 0 if serving else 1

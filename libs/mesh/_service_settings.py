"""What every service's settings hold: where it listens, how callers prove who they are (mutual TLS, `TlsSettings`),
which of them may call what (the ACL policy, `AclSettings`), how it logs, where traces and metrics go, how long a call
may take and how long it drains."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from lucid_tron.authz import AclSettings
from lucid_tron.config import setting
from lucid_tron.pki import TlsSettings

__all__ = ["LogFormat", "LogLevel", "ServiceSettings"]


class LogLevel(enum.Enum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class LogFormat(enum.Enum):
    JSON = "json"
    TEXT = "text"  # for a developer's terminal; production parses JSON


@dataclass(frozen=True, kw_only=True)
class ServiceSettings(AclSettings, TlsSettings):
    """What every service has: mutual TLS on GRPC_PORT unless GRPC_INSECURE_PLAINTEXT (see TlsSettings), and the
    ACL policy checked on every call (see AclSettings).

    Extend with `@dataclass(frozen=True, kw_only=True)` and more `setting()` fields.

    Constructing it directly (tests do) validates the same bounds as loading it; a subclass that adds cross-field
    rules in `__post_init__` calls `super().__post_init__()` first and raises ConfigError.
    """

    host: str = setting("GRPC_HOST", default="127.0.0.1")  # 0.0.0.0 in containers
    port: int = setting("GRPC_PORT", default=50051, ge=0, le=65535)  # 0 picks a free port (tests)
    # grpc.health.v1 alone, in plaintext, for probes that cannot present a client certificate (grpc_health_probe,
    # Kubernetes' gRPC probes, lucid_tron.healthcheck): off when unset; 0 picks a free port (tests). On GRPC_HOST.
    health_port: int | None = setting("HEALTH_PORT", default=None, ge=0, le=65535)
    log_level: LogLevel = setting("LOG_LEVEL", default=LogLevel.INFO)
    log_format: LogFormat = setting("LOG_FORMAT", default=LogFormat.JSON)
    otel_endpoint: str | None = setting("OTEL_EXPORTER_OTLP_ENDPOINT", default=None, schemes=("http", "https"))
    # Share of the RPCs that start a trace (a caller's sampled traceparent is always followed): spans cost CPU on a Pi.
    otel_sample_ratio: float = setting("OTEL_TRACES_SAMPLER_ARG", default=0.1, ge=0, le=1)
    # The Prometheus endpoint (/metrics): off when METRICS_PORT is unset; 0 picks a free port (tests).
    metrics_port: int | None = setting("METRICS_PORT", default=None, ge=0, le=65535)
    # Where it listens; unset: the same host as gRPC (GRPC_HOST).
    metrics_host: str | None = setting("METRICS_HOST", default=None)
    # Longest an RPC's work may take when its caller set no deadline (or a later one), retries of dependencies
    # included: code below the servicer reads it through `deadlines`, so a caller without a deadline cannot make a
    # service wait through every retry of a dependency that does not answer.
    call_timeout_s: float = setting("CALL_TIMEOUT_S", default=30.0, ge=0.1, le=600)
    # How often the runtime probes the service's dependencies (`ServiceSpec.dependencies`: MongoDB, Redis, ...).
    dependency_check_interval_s: float = setting("DEPENDENCY_CHECK_INTERVAL_S", default=2.0, ge=0.05, le=300)
    # Below docker's 10 s stop timeout, leaving time for on_stop hooks before SIGKILL.
    shutdown_grace_s: float = setting("SHUTDOWN_GRACE_S", default=5.0, ge=0, le=120)

    @property
    def bind_address(self) -> str:
        """`host:port` for grpc's add_insecure_port (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{host}:{self.port}"

    @property
    def metrics_bind_host(self) -> str:
        """The host the metrics endpoint listens on: METRICS_HOST, else GRPC_HOST."""
        return self.host if self.metrics_host is None else self.metrics_host

"""The mesh runtime every service runs on: grpc.aio server, health, reflection, shutdown, config, logs, tracing, errors.

A service's `__main__.py`::

    from lucid.tron.v1 import relay_pb2_grpc
    from lucid_tron.mesh import Registration, ServiceSpec, run

    def build(settings: RelaySettings) -> ServiceSpec:
        store = RelayStore(settings.redis_url)
        servicer = RelayServicer(store)
        add = relay_pb2_grpc.add_RelayServiceServicer_to_server
        return ServiceSpec(
            name="tron-relay",
            services=[Registration(add, servicer, "lucid.tron.v1.RelayService")],
            on_start=[store.connect],
            on_stop=[store.close],
        )

    if __name__ == "__main__":
        run(build, RelaySettings)

Tests use `async with serving(spec, ServiceSettings(port=0, **tls_fields(files))) as server:` (mutual TLS, the
default: certificate files from lucid_tron.pki; tests/fixtures/pki.py) or `ServiceSettings(port=0,
insecure_plaintext=True)`, and connect to `server.address` (`server.health_address` with `health_port=0`).
Code that waits on anything reads the caller's deadline from `lucid_tron.context.deadlines`; calls to other services
go through `open_channel(target)`, which forwards the deadline, the request id and the trace, or, for the typed
clients of `lucid_tron.peers`, `open_peer_channel(target, peer=..., default_timeout_s=...)`, which also maps the
peer's status into the caller's own error. A service declares what it depends on as `ServiceSpec(dependencies=
[Dependency(name, probe, soft=..., open=...)])` and the runtime probes each every DEPENDENCY_CHECK_INTERVAL_S: a hard
one down takes the process NOT_SERVING, a soft one is reported under its own name. For what a library notices between
probes, `health.reporter(name)` / `health.soft.reporter(name)` and `health.watch(reporter, probe, interval_s=...)`. Domain counters go to `metrics.counter(name, documentation,
labels)` (served on METRICS_PORT with the runtime's RPC metrics).
"""

from lucid_tron.context import deadlines
from lucid_tron.lazy import lazy_exports
from lucid_tron.mesh._client import open_channel, open_peer_channel
from lucid_tron.config import ConfigError, Problem, SettingInfo, describe_settings, load_settings, setting
from lucid_tron.context import REQUEST_ID_HEADER, current_request_id, current_trace_id
from lucid_tron.mesh._errors import ERROR_DOMAIN, PEER_UNAVAILABLE
from lucid_tron.mesh._health import Dependency, Health, HealthReporter, Probe, SoftDependencies
from lucid_tron.mesh._logging import configure_logging
from lucid_tron.mesh._run import EXIT_CONFIG, run
from lucid_tron.mesh._service_settings import LogFormat, LogLevel, ServiceSettings
from lucid_tron.mesh._server import MeshServer, Registration, ServiceSpec, StartHook, StopHook, serving

__all__ = [
    "ERROR_DOMAIN",
    "EXIT_CONFIG",
    "PEER_UNAVAILABLE",
    "REQUEST_ID_HEADER",
    "ConfigError",
    "Dependency",
    "Health",
    "HealthReporter",
    "LogFormat",
    "LogLevel",
    "MeshServer",
    "Probe",
    "Problem",
    "Registration",
    "ServiceSettings",
    "ServiceSpec",
    "SettingInfo",
    "SoftDependencies",
    "StartHook",
    "StopHook",
    "configure_logging",
    "describe_settings",
    "metrics",
    "current_request_id",
    "current_trace_id",
    "deadlines",
    "load_settings",
    "open_channel",
    "open_peer_channel",
    "run",
    "serving",
    "setting",
]

# prometheus-client (~1.2 MiB) is loaded by the first service that declares a domain counter, not by every import.
__getattr__, __dir__ = lazy_exports(__name__, {"metrics": "._metrics"})

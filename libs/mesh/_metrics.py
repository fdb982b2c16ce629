"""Prometheus metrics: the runtime's RPC metrics per server, the domain counters services add, one endpoint each.

A service with METRICS_PORT serves `/metrics` (prometheus-client's own HTTP server, in a daemon thread that only
works while it is scraped) with:

- what the runtime counts for every RPC but health checks and reflection (`RpcMetrics`), named as the Go
  ecosystem's go-grpc-prometheus names them so that existing dashboards read them: `grpc_server_handled_total`
  (by service, method and code), `grpc_server_handling_seconds` (a histogram), `grpc_server_in_flight`;
- the process's health: `lucid_serving` and `lucid_dependency_up` per dependency (read from `Health` at scrape time);
- the domain counters of the service (`metrics.counter(...)`, `metrics.counter_from(...)`) and prometheus-client's
  process collectors (`process_resident_memory_bytes`, `process_cpu_seconds_total`, ...), which live in the
  process-wide registry.

Per RPC the runtime does three cheap things, with everything they touch prepared at registration
(`RpcMetrics.method`): a plain-int in-flight count (read by its gauge at scrape time), one histogram observation
and one counter increment. Importing this module loads prometheus-client (~1.2 MiB of resident memory): the runtime
imports it only when METRICS_PORT is set, and services only when they declare domain counters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import grpc
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from lucid_tron.authz import Counts

__all__ = ["DomainMetrics", "MethodMetrics", "MetricsEndpoint", "RpcMetrics", "metrics"]

# RPC latency from 1 ms (a cached read) to 30 s (CALL_TIMEOUT_S's default).
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class DomainMetrics:
    """The registry a service adds its domain counters to (payments seen, payouts sent, cache hits, Tor rotations).

    One per process (prometheus-client's default registry), served by every metrics endpoint of the process.
    Declare a counter once, where the code that counts lives, e.g. at module level::

        ANSWERS = metrics.counter("lucid_relay_answers_total", "Answers by where they came from", ["source"])
        FROM_CACHE = ANSWERS.labels("cache")  # bound once
        FROM_CACHE.inc()
    """

    def __init__(self) -> None:
        self._readings: dict[str, tuple[str, Callable[[], float]]] = {}
        REGISTRY.register(_Readings(self._readings))

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        """A prometheus-client Counter in the process registry; `name` ends in `_total`."""
        return Counter(name, documentation, labels, registry=REGISTRY)

    def counter_from(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """A counter another library already keeps (e.g. tor_proxy's TorStats), read when scraped: no cost per event.

        Declaring `name` again replaces its reader: the last component built in the process is the one counted.
        """
        self._readings[name] = (documentation, read)


class _Readings:
    def __init__(self, readings: dict[str, tuple[str, Callable[[], float]]]) -> None:
        self._readings = readings

    def describe(self) -> Iterable[Metric]:
        return ()  # the names change as components are built: no up-front check of duplicates

    def collect(self) -> Iterator[Metric]:
        for name, (documentation, read) in list(self._readings.items()):
            yield CounterMetricFamily(name.removesuffix("_total"), documentation, value=read())


metrics = DomainMetrics()


class DependencyStates(Protocol):
    """What the metrics read of the process's Health."""

    @property
    def serving(self) -> bool: ...

    def dependencies(self) -> dict[str, bool]: ...


class MethodMetrics:
    """One method's series, bound once at registration; the runtime's wrapper updates them for each call."""

    __slots__ = ("_codes", "_handled", "_service", "_method", "in_flight", "seconds")

    def __init__(self, rpc: RpcMetrics, service: str, method: str) -> None:
        self._handled = rpc.handled
        self._service, self._method = service, method
        self._codes: dict[grpc.StatusCode, Any] = {}
        self.seconds = rpc.handling_seconds.labels(service, method)
        #: Calls of this method being handled now; a plain int, read by the gauge when scraped.
        self.in_flight = 0
        rpc.in_flight.labels(service, method).set_function(lambda: self.in_flight)

    def ended(self, code: grpc.StatusCode, seconds: float) -> None:
        """Count one call that ended with `code` after `seconds`."""
        self.seconds.observe(seconds)
        child = self._codes.get(code)
        if child is None:
            # Only the codes a method actually ends with get a series: 17 per method would bury the real ones.
            child = self._codes[code] = self._handled.labels(self._service, self._method, code.name)
        child.inc()


class RpcMetrics:
    """The RPC metrics of one server (own registry: two servers in one test process do not mix their counts)."""

    def __init__(self, health: DependencyStates) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("grpc_service", "grpc_method")
        self.handled = Counter(
            "grpc_server_handled_total",
            "RPCs completed on the server, by status code",
            (*labels, "grpc_code"),
            registry=self.registry,
        )
        self.handling_seconds = Histogram(
            "grpc_server_handling_seconds",
            "Time from the start of an RPC's handling to its end, seconds",
            labels,
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.in_flight = Gauge("grpc_server_in_flight", "RPCs being handled now", labels, registry=self.registry)
        self.registry.register(_Health(health))
        self._methods: dict[str, MethodMetrics] = {}

    def count_acl(self, counts: Counts) -> None:
        """Serve the server's ACL decision counters with its RPC metrics."""
        self.registry.register(_Acl(counts))

    def method(self, full_method: str) -> MethodMetrics:
        """The prepared series of `full_method` ("/package.Service/Method"), one object per method however often
        it is wrapped (a generated servicer is registered twice), so its in-flight count is the one the gauge reads."""
        prepared = self._methods.get(full_method)
        if prepared is None:
            service, _, method = full_method.lstrip("/").partition("/")
            prepared = self._methods[full_method] = MethodMetrics(self, service, method)
        return prepared


class _Acl:
    """The ACL's decisions by method, decision and rule, and its failed reloads, read from `Counts` when scraped."""

    def __init__(self, counts: Counts) -> None:
        self._counts = counts

    def describe(self) -> Iterable[Metric]:
        return (
            CounterMetricFamily("lucid_acl_decisions", "", labels=["grpc_method", "decision", "rule"]),
            CounterMetricFamily("lucid_acl_reload_failures", ""),
        )

    def collect(self) -> Iterator[Metric]:
        decisions = CounterMetricFamily(
            "lucid_acl_decisions",
            "Calls the ACL policy decided, by full method, decision (ALLOW, DENY) and the rule that decided",
            labels=["grpc_method", "decision", "rule"],
        )
        for (method, decision, rule), count in list(self._counts.decisions.items()):
            decisions.add_metric([method, decision, rule], count.value)
        yield decisions
        yield CounterMetricFamily(
            "lucid_acl_reload_failures",
            "Changed ACL policy files that could not be used (the last good policy stayed in force)",
            value=self._counts.reload_failures,
        )


class _Health:
    def __init__(self, health: DependencyStates) -> None:
        self._health = health

    def describe(self) -> Iterable[Metric]:
        return (
            GaugeMetricFamily("lucid_serving", ""),
            GaugeMetricFamily("lucid_dependency_up", "", labels=["dependency"]),
        )

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "lucid_serving", "1 while the process reports SERVING on grpc.health.v1", value=int(self._health.serving)
        )
        up = GaugeMetricFamily(
            "lucid_dependency_up", "1 while the dependency is reported up, 0 while down", labels=["dependency"]
        )
        for dependency, serving in sorted(self._health.dependencies().items()):
            up.add_metric([dependency], int(serving))
        yield up


class _Everything:
    """What an endpoint serves: its server's RPC metrics and health, then the process registry."""

    def __init__(self, server_registry: CollectorRegistry) -> None:
        self._registries = (server_registry, REGISTRY)

    def collect(self) -> Iterator[Metric]:
        for registry in self._registries:
            yield from registry.collect()


class MetricsEndpoint:
    """prometheus-client's HTTP server for one server's metrics, on `host:port` (0: a free port)."""

    def __init__(self, rpc: RpcMetrics, host: str, port: int) -> None:
        self._httpd, self._thread = start_http_server(port, host, _Everything(rpc.registry))  # type: ignore[arg-type]
        self.port: int = self._httpd.server_port

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

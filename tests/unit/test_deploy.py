"""deploy/ matches the code: compose and k3s run every service with its module, give each service exactly the
settings its settings class reads, keep every service off the internet (only tor leaves), open each service's
metrics port to a scraper and to nothing else, run every service with mutual TLS from its own certificate (never
GRPC_INSECURE_PLAINTEXT) and probe health on the plaintext health port, and commit no secret.

The settings classes are the source of truth: each service's `__main__` declares them with lucid_tron.mesh's
`setting()`, and the tests load them from the environment the deploy files give, with the secrets they mount.
No Docker engine or cluster is needed: the YAML is read as written (PyYAML resolves the compose anchors).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from lucid_tron.cli._config import settings_type_of, uses_tor
from lucid_tron.cli._services import BETA_SIDECAR, MeshService
from lucid_tron.cli._services import SERVICES as MESH
from lucid_tron.mesh import ServiceSettings, describe_settings, load_settings
from tor_proxy import TorSettings

ROOT = Path(__file__).resolve().parents[2]


#: Every variable Tor's settings read.
TOR_VARIABLES = {info.variable for info in describe_settings(TorSettings)}
DEPLOY = ROOT / "deploy"
K3S = DEPLOY / "k3s"
GRPC_PORT = 50051
#: grpc.health.v1 alone, in plaintext (HEALTH_PORT): what the container health check and k3s probes ask.
HEALTH_PORT = 50052
#: Where a service finds its certificate, key and CA bundle (TlsSettings' defaults, never overridden here).
TLS_MOUNT = "/run/secrets/tls"
TLS_FILES = {"cert.pem", "key.pem", "ca.pem"}
#: Where every service serves Prometheus metrics (METRICS_PORT), the OpenTelemetry Prometheus exporter's port.
METRICS_PORT = 9464
#: Every port a pod here listens on: gRPC, metrics, MongoDB, Redis, tor's SOCKS and control.
PORTS = {GRPC_PORT, HEALTH_PORT, METRICS_PORT, 27017, 6379, 9050, 9051}
#: The label a scraper's pod and its namespace both carry to reach METRICS_PORT (networkpolicies.yaml).
SCRAPER_LABEL = {"lucid.tron/metrics-scraper": "true"}
SECRETS_MOUNT = "/run/secrets"
#: A stand-in for a mounted secret file: 32 bytes as hex, the shape a key or a password takes; as base64 for the
#: secrets read that way.
PLACEHOLDER_SECRET = "00" * 32
PLACEHOLDER_SECRETS = {"webhook_secrets_key": "A" * 43 + "="}
#: Words that make a variable name look like it holds a secret value.
SECRET_WORDS = ("KEY", "PASSWORD", "SECRET", "TOKEN", "SEED", "MNEMONIC")

#: What deploy/ runs of ours: the seven services and the Beta sidecar, from the one image.
SERVICES = (*MESH, BETA_SIDECAR)
SERVICE_IDS = [service.name for service in SERVICES]
#: (caller, peer) -> what the caller's address of the peer names instead: the ops plane reaches wallet-manager only
#: through the Beta sidecar.
ROUTED = {("payment-gateway", "wallet-manager"): BETA_SIDECAR.name}


# -- the code side -----------------------------------------------------------------------------------------------


def _settings_class(service: MeshService) -> type[ServiceSettings]:
    return settings_type_of(service.module)


def _variables(service: MeshService) -> dict[str, bool]:
    """Every variable the service's settings read -> whether it is secret (also read from /run/secrets)."""
    return {info.variable: info.secret for info in describe_settings(_settings_class(service))}


def _required(service: MeshService) -> set[str]:
    return {info.variable for info in describe_settings(_settings_class(service)) if info.default is None}


def _uses_tor(service: MeshService) -> bool:
    """A service whose settings include Tor's reaches the internet, through Tor; the others never do."""
    return uses_tor(service.module)


def _addresses(service: MeshService) -> dict[str, str]:
    """What this one calls -> the variable holding its address: <PEER>_ADDR settings, the sidecar's BACKEND_ADDR."""
    if service is BETA_SIDECAR:
        return {"wallet-manager": "BACKEND_ADDR"}
    by_variable = {peer.address_variable: peer.name for peer in MESH}
    return {by_variable[name]: name for name in _variables(service) if name in by_variable}


def _peers(service: MeshService) -> set[str]:
    """Names of what this one opens gRPC connections to: the peers its settings name, routed (ROUTED)."""
    return {ROUTED.get((service.name, peer), peer) for peer in _addresses(service)}


def _expected_edges(service: MeshService) -> set[tuple[str, int]]:
    """(destination, port) this service must be able to open, and the only ones."""
    edges = {(peer, GRPC_PORT) for peer in _peers(service)}
    variables = _variables(service)
    if "MONGO_URL" in variables:
        edges.add(("mongo", 27017))
    if "REDIS_URL" in variables:
        edges.add(("redis", 6379))
    if _uses_tor(service):
        edges |= {("tor", 9050), ("tor", 9051)}
    return edges


def _load(service: MeshService, env: dict[str, str], secret_files: set[str], tmp_path: Path) -> ServiceSettings:
    """The service's settings as its process would load them from `env` with `secret_files` mounted."""
    secrets_dir = tmp_path / service.name
    secrets_dir.mkdir()
    for name in secret_files:
        (secrets_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (secrets_dir / name).write_text(PLACEHOLDER_SECRETS.get(name, PLACEHOLDER_SECRET) + "\n")
    return load_settings(_settings_class(service), {**env, "SECRETS_DIR": str(secrets_dir)})


def _host(address: str) -> str:
    return urlsplit(f"//{address}").hostname or ""


def _port(address: str) -> int | None:
    return urlsplit(f"//{address}").port


# -- compose -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def _compose_env(compose: dict[str, Any], name: str) -> dict[str, str]:
    environment = compose["services"][name].get("environment") or {}
    assert isinstance(environment, dict), f"{name}: write environment as a mapping"
    return {key: str(value) for key, value in environment.items()}


def _compose_secrets(compose: dict[str, Any], name: str) -> set[str]:
    """File names the service finds under /run/secrets."""
    names = set()
    for entry in compose["services"][name].get("secrets") or []:
        if isinstance(entry, str):
            names.add(entry)
        else:
            target = entry.get("target", entry["source"])
            names.add(target.removeprefix(SECRETS_MOUNT + "/"))
    return names


def _compose_networks(compose: dict[str, Any], name: str) -> set[str]:
    networks = compose["services"][name].get("networks") or ["default"]
    return set(networks)


def _compose_internal(compose: dict[str, Any], network: str) -> bool:
    return bool((compose.get("networks") or {}).get(network, {}) and compose["networks"][network].get("internal"))


def test_compose_runs_every_service_from_the_one_image_with_its_module(compose):
    images = set()
    for service in SERVICES:
        entry = compose["services"].get(service.name)
        assert entry is not None, f"compose has no service {service.name}"
        assert entry["command"] == [service.module]
        images.add(entry["image"])
    assert len(images) == 1


@pytest.mark.parametrize("name", SERVICE_IDS)
def test_compose_environment_loads_the_services_settings(compose, name, tmp_path):
    service = next(s for s in SERVICES if s.name == name)
    settings = _load(service, _compose_env(compose, name), _compose_secrets(compose, name), tmp_path)
    assert settings.host == "0.0.0.0"
    assert settings.port == GRPC_PORT


@pytest.mark.parametrize("name", SERVICE_IDS)
def test_compose_services_serve_metrics_on_9464_exposed_to_the_metrics_network(compose, name, tmp_path):
    service = next(s for s in SERVICES if s.name == name)
    settings = _load(service, _compose_env(compose, name), _compose_secrets(compose, name), tmp_path)
    assert (settings.metrics_bind_host, settings.metrics_port) == ("0.0.0.0", METRICS_PORT)
    assert str(METRICS_PORT) in compose["services"][name]["expose"]
    assert "metrics" in _compose_networks(compose, name)


def test_compose_metrics_network_is_internal_and_holds_only_the_services_and_the_sidecar(compose):
    assert _compose_internal(compose, "metrics")
    assert {name for name in compose["services"] if "metrics" in _compose_networks(compose, name)} == set(SERVICE_IDS)


def test_compose_publishes_no_port_on_the_host(compose):
    assert {name for name, entry in compose["services"].items() if "ports" in entry} == set()


@pytest.mark.parametrize("name", SERVICE_IDS)
def test_compose_sets_every_required_variable_in_the_environment_or_as_a_secret(compose, name):
    service = next(s for s in SERVICES if s.name == name)
    given = set(_compose_env(compose, name))
    mounted = {file.upper() for file in _compose_secrets(compose, name)}
    secret = _variables(service)
    missing = {var for var in _required(service) if var not in given and not (secret[var] and var in mounted)}
    assert missing == set()


@pytest.mark.parametrize("name", SERVICE_IDS)
def test_compose_sets_no_variable_the_service_does_not_read(compose, name):
    service = next(s for s in SERVICES if s.name == name)
    assert set(_compose_env(compose, name)) - set(_variables(service)) == set()


@pytest.mark.parametrize("name", SERVICE_IDS)
def test_compose_services_that_use_tor_go_through_the_tor_container_and_only_they_can_reach_it(compose, name, tmp_path):
    service = next(s for s in SERVICES if s.name == name)
    shares_a_network_with_tor = bool(_compose_networks(compose, name) & _compose_networks(compose, "tor"))
    assert shares_a_network_with_tor == _uses_tor(service)
    if _uses_tor(service):
        config = _load(service, _compose_env(compose, name), _compose_secrets(compose, name), tmp_path).tor_config
        assert (config.direct, config.socks_host, config.socks_port) == (False, "tor", 9050)
        assert "tor_control_password" in _compose_secrets(compose, name)


def test_only_tor_is_on_a_network_that_reaches_the_internet(compose):
    outside = {
        name
        for name in compose["services"]
        for network in _compose_networks(compose, name)
        if not _compose_internal(compose, network)
    }
    assert outside == {"tor"}


@pytest.mark.parametrize("name", SERVICE_IDS)
def test_compose_addresses_name_compose_services_on_a_shared_network(compose, name):
    service = next(s for s in SERVICES if s.name == name)
    env = _compose_env(compose, name)
    targets = {_host(env[variable]) for variable in _addresses(service).values()}
    assert targets == _peers(service)
    assert all(_port(env[variable]) == GRPC_PORT for variable in _addresses(service).values())
    for variable, host in (("MONGO_URL", "mongo"), ("REDIS_URL", "redis")):
        if variable in env:
            assert urlsplit(env[variable]).hostname == host
    for destination, _port_number in _expected_edges(service):
        assert _compose_networks(compose, name) & _compose_networks(compose, destination), destination


@pytest.mark.parametrize("name", SERVICE_IDS)
def test_compose_starts_a_service_after_everything_it_calls_is_healthy(compose, name):
    service = next(s for s in SERVICES if s.name == name)
    depends_on = compose["services"][name].get("depends_on") or {}
    needed = {destination for destination, _port_number in _expected_edges(service)}
    assert {dep for dep, spec in depends_on.items() if spec.get("condition") == "service_healthy"} == needed


@pytest.mark.parametrize("name", SERVICE_IDS)
def test_compose_service_is_hardened_limited_and_health_checked(compose, name):
    service = next(s for s in SERVICES if s.name == name)
    entry = compose["services"][name]
    assert entry["read_only"] is True
    assert entry["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in entry["security_opt"]
    assert not str(entry["user"]).startswith("0")
    assert any(str(mount).startswith("/tmp") for mount in entry["tmpfs"])
    assert _megabytes(entry["mem_limit"]) <= 128
    assert entry["healthcheck"]["test"][0] == "CMD"  # exec form: distroless has no shell
    assert entry["healthcheck"]["test"][-1] == service.grpc_service
    assert "lucid_tron.healthcheck" in entry["healthcheck"]["test"]


def test_compose_infrastructure_is_hardened_and_limited_too(compose):
    for name, entry in compose["services"].items():
        assert entry.get("read_only") is True, name
        assert entry.get("cap_drop") == ["ALL"], name
        assert "no-new-privileges:true" in entry.get("security_opt", []), name
        assert "mem_limit" in entry, name
        if entry.get("restart") != "on-failure":  # one-shot jobs have no health
            assert "healthcheck" in entry, name


def _megabytes(limit: str) -> float:
    units = {"k": 1 / 1024, "m": 1, "g": 1024}
    return float(limit[:-1]) * units[limit[-1].lower()]


# -- k3s ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K3S / "kustomization.yaml").read_text())
    documents = []
    for resource in kustomization["resources"]:
        documents += [doc for doc in yaml.safe_load_all((K3S / resource).read_text()) if doc]
    return documents


def _objects(manifests: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in manifests if doc["kind"] == kind}


def _pod_templates(manifests: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in manifests:
        if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]


def _container(manifests: list[dict[str, Any]], name: str) -> dict[str, Any]:
    deployment = _objects(manifests, "Deployment")[name]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _k3s_env(manifests: list[dict[str, Any]], name: str) -> dict[str, str]:
    env = _container(manifests, name).get("env") or []
    assert all("value" in item for item in env), f"{name}: a secret belongs in a file under /run/secrets"
    return {item["name"]: item["value"] for item in env}


def _k3s_secrets(manifests: list[dict[str, Any]], name: str) -> set[str]:
    """File names the service's container finds under /run/secrets, its TLS files (tls/...) included."""
    pod = _objects(manifests, "Deployment")[name]["spec"]["template"]["spec"]
    mounts = _container(manifests, name).get("volumeMounts", [])
    mounted = {mount["name"] for mount in mounts if mount["mountPath"] == SECRETS_MOUNT}
    files = set()
    for volume in pod.get("volumes", []):
        if volume["name"] not in mounted:
            continue
        sources = [volume["secret"]] if "secret" in volume else [s["secret"] for s in volume["projected"]["sources"]]
        for source in sources:
            assert "items" in source, f"{name}: mount the keys it needs, not a whole Secret"
            files |= {item["path"] for item in source["items"]}
    return files


def test_kustomization_lists_every_manifest_but_the_secret_example():
    listed = set(yaml.safe_load((K3S / "kustomization.yaml").read_text())["resources"])
    on_disk = {str(path.relative_to(K3S)) for path in K3S.rglob("*.yaml")}
    assert on_disk - listed == {"kustomization.yaml", "secret.example.yaml"}


def test_k3s_runs_every_service_from_the_one_image_with_its_module(manifests):
    images = set()
    for service in SERVICES:
        container = _container(manifests, service.name)
        assert container["args"] == [service.module]
        assert "command" not in container  # the image's entrypoint is `python -m`
        images.add(container["image"])
    assert len(images) == 1


@pytest.mark.parametrize("name", SERVICE_IDS)
def test_k3s_probes_ask_grpc_health_for_the_services_own_name(manifests, name):
    service = next(s for s in SERVICES if s.name == name)
    container = _container(manifests, name)
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"] == {"port": HEALTH_PORT, "service": service.grpc_service}, probe


@pytest.mark.parametrize("name", SERVICE_IDS)
def test_k3s_environment_loads_the_services_settings(manifests, name, tmp_path):
    service = next(s for s in SERVICES if s.name == name)
    settings = _load(service, _k3s_env(manifests, name), _k3s_secrets(manifests, name), tmp_path)
    assert (settings.host, settings.port) == ("0.0.0.0", GRPC_PORT)


@pytest.mark.parametrize("name", SERVICE_IDS)
def test_k3s_services_serve_metrics_on_a_port_named_metrics_that_the_scrape_annotations_name(manifests, name, tmp_path):
    service = next(s for s in SERVICES if s.name == name)
    settings = _load(service, _k3s_env(manifests, name), _k3s_secrets(manifests, name), tmp_path)
    assert (settings.metrics_bind_host, settings.metrics_port) == ("0.0.0.0", METRICS_PORT)
    ports = {port["name"]: port["containerPort"] for port in _container(manifests, name)["ports"]}
    assert ports == {"grpc": GRPC_PORT, "metrics": METRICS_PORT, "health": HEALTH_PORT}
    annotations = _objects(manifests, "Deployment")[name]["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(METRICS_PORT),
        "prometheus.io/path": "/metrics",
    }


def test_k3s_asks_scrapers_for_the_services_and_the_sidecar_only(manifests):
    annotated = {
        template["metadata"]["labels"]["app.kubernetes.io/name"]
        for _where, template in _pod_templates(manifests)
        if (template["metadata"].get("annotations") or {}).get("prometheus.io/scrape") == "true"
    }
    assert annotated == set(SERVICE_IDS)


@pytest.mark.parametrize("name", SERVICE_IDS)
def test_k3s_sets_the_same_variables_as_compose(manifests, compose, name):
    assert set(_k3s_env(manifests, name)) == set(_compose_env(compose, name))
    k3s_secrets = {file for file in _k3s_secrets(manifests, name) if not file.startswith("tls/")}
    assert k3s_secrets == _compose_secrets(compose, name)


@pytest.mark.parametrize("name", SERVICE_IDS)
def test_k3s_services_that_use_tor_go_through_the_tor_service(manifests, name, tmp_path):
    service = next(s for s in SERVICES if s.name == name)
    if not _uses_tor(service):
        assert not set(_k3s_env(manifests, name)) & TOR_VARIABLES
        return
    config = _load(service, _k3s_env(manifests, name), _k3s_secrets(manifests, name), tmp_path).tor_config
    assert (config.direct, config.socks_host, config.socks_port) == (False, "tor", 9050)
    assert {p["port"] for p in _objects(manifests, "Service")["tor"]["spec"]["ports"]} == {9050, 9051}


@pytest.mark.parametrize("name", SERVICE_IDS)
def test_k3s_addresses_name_k3s_services(manifests, name):
    service = next(s for s in SERVICES if s.name == name)
    env = _k3s_env(manifests, name)
    services = _objects(manifests, "Service")
    for peer, variable in _addresses(service).items():
        host, port = _host(env[variable]), _port(env[variable])
        assert host == ROUTED.get((name, peer), peer) and port == GRPC_PORT
        assert any(p["port"] == GRPC_PORT for p in services[host]["spec"]["ports"])
    if "MONGO_URL" in env:
        members = urlsplit(env["MONGO_URL"]).netloc.split(",")
        replicas = _objects(manifests, "StatefulSet")["mongo"]["spec"]["replicas"]
        assert sorted(members) == [f"mongo-{n}.mongo:27017" for n in range(replicas)]
    if "REDIS_URL" in env:
        assert urlsplit(env["REDIS_URL"]).hostname in services


def test_every_k3s_pod_runs_non_root_read_only_without_capabilities_and_with_limits(manifests):
    for where, template in _pod_templates(manifests):
        pod = template["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert pod["automountServiceAccountToken"] is False, where
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert "memory" in container["resources"]["limits"], where
            assert "memory" in container["resources"]["requests"], where


def test_every_k3s_deployment_with_replicas_has_a_disruption_budget(manifests):
    budgets = [pdb["spec"]["selector"]["matchLabels"] for pdb in _objects(manifests, "PodDisruptionBudget").values()]
    for name, deployment in {**_objects(manifests, "Deployment"), **_objects(manifests, "StatefulSet")}.items():
        if deployment["spec"]["replicas"] > 1:
            assert deployment["spec"]["selector"]["matchLabels"] in budgets, name


# -- k3s NetworkPolicies, evaluated -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pod:
    """What a NetworkPolicy sees of a pod: its labels and the labels of its namespace."""

    labels: dict[str, str]
    namespace: dict[str, str]


def _home_namespace(manifests: list[dict[str, Any]]) -> dict[str, str]:
    """The labels of the namespace kustomize puts every object in (the API server adds metadata.name's label)."""
    (namespace,) = _objects(manifests, "Namespace").values()
    name = namespace["metadata"]["name"]
    return {**namespace["metadata"].get("labels", {}), "kubernetes.io/metadata.name": name}


def _pods(manifests: list[dict[str, Any]]) -> dict[str, Pod]:
    home = _home_namespace(manifests)
    return {
        template["metadata"]["labels"]["app.kubernetes.io/name"]: Pod(template["metadata"]["labels"], home)
        for _where, template in _pod_templates(manifests)
    }


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, "the evaluator only knows matchLabels"
    return all(labels.get(key) == value for key, value in (selector.get("matchLabels") or {}).items())


def _peer_matches(peer: dict[str, Any], home: dict[str, str], other: Pod | None, ip: str | None) -> bool:
    """Whether a policy peer in the namespace labelled `home` matches `other` (a pod) or `ip` (outside the cluster)."""
    if "ipBlock" in peer:
        if ip is None:
            return False
        address = ipaddress.ip_address(ip)
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(excluded) for excluded in block.get("except", [])
        )
    if other is None:
        return False
    # Without a namespaceSelector a podSelector means pods of the policy's own namespace; with one, both must match.
    if "namespaceSelector" in peer:
        in_namespace = _selects(peer["namespaceSelector"], other.namespace)
    else:
        in_namespace = other.namespace == home
    return in_namespace and _selects(peer.get("podSelector", {}), other.labels)


def _rule_admits(
    rule: dict[str, Any], key: str, home: dict[str, str], other: Pod | None, ip: str | None, port: int
) -> bool:
    peers_ok = key not in rule or any(_peer_matches(peer, home, other, ip) for peer in rule[key])
    ports_ok = "ports" not in rule or any(
        item["port"] == port and item.get("protocol", "TCP") == "TCP" for item in rule["ports"]
    )
    return peers_ok and ports_ok


def _allows(
    policies: list[dict[str, Any]],
    direction: str,
    pod: Pod,
    other: Pod | None,
    ip: str | None,
    port: int,
) -> bool:
    """Whether the policies selecting `pod` (all in its namespace) let it open (Egress) or accept (Ingress) a
    connection with `other` (a pod) or `ip` (an address outside the cluster) on `port`."""
    key = {"Ingress": "from", "Egress": "to"}[direction]
    selecting = [
        policy["spec"]
        for policy in policies
        if direction in policy["spec"]["policyTypes"] and _selects(policy["spec"]["podSelector"], pod.labels)
    ]
    if not selecting:
        return True  # no policy isolates this pod in that direction
    return any(
        _rule_admits(rule, key, pod.namespace, other, ip, port)
        for spec in selecting
        for rule in spec.get(direction.lower()) or []
    )


def test_network_policies_allow_exactly_the_connections_the_settings_name(manifests):
    policies = list(_objects(manifests, "NetworkPolicy").values())
    pods = _pods(manifests)
    expected = {(service.name, dest, port) for service in SERVICES for dest, port in _expected_edges(service)}
    expected |= {("mongo", "mongo", 27017), ("mongo-rs-init", "mongo", 27017)}
    triples = [(s, d, port) for s in pods for d in pods for port in PORTS]
    # Each side on its own allows exactly these: a hole on one side is not hidden by the other side's rule.
    egress = {(s, d, p) for s, d, p in triples if _allows(policies, "Egress", pods[s], pods[d], None, p)}
    ingress = {(s, d, p) for s, d, p in triples if _allows(policies, "Ingress", pods[d], pods[s], None, p)}
    assert egress == expected
    assert ingress == expected


@pytest.mark.parametrize(
    "address", ["1.1.1.1", "185.220.101.1", "10.0.0.1", "172.20.0.5", "192.168.1.10", "169.254.169.254"]
)
def test_only_tor_may_open_connections_out_of_the_cluster_and_never_to_private_ranges(manifests, address):
    policies = list(_objects(manifests, "NetworkPolicy").values())
    public = not ipaddress.ip_address(address).is_private
    for name, pod in _pods(manifests).items():
        reaches = any(_allows(policies, "Egress", pod, None, address, port) for port in (443, 9001, 80))
        assert reaches == (name == "tor" and public), name


def _admitted(manifests: list[dict[str, Any]], caller: Pod) -> set[tuple[str, int]]:
    """(pod, port) of lucid-tron that accept a connection from `caller`, over every port anything here listens on."""
    policies = list(_objects(manifests, "NetworkPolicy").values())
    return {
        (name, port)
        for name, pod in _pods(manifests).items()
        for port in PORTS | {80, 443, 8080, 9090}
        if _allows(policies, "Ingress", pod, caller, None, port)
    }


def test_a_labelled_scraper_reaches_every_service_on_the_metrics_port_and_nothing_else(manifests):
    scraper = Pod(SCRAPER_LABEL, {"kubernetes.io/metadata.name": "monitoring", **SCRAPER_LABEL})
    assert _admitted(manifests, scraper) == {(service.name, METRICS_PORT) for service in SERVICES}


@pytest.mark.parametrize(
    ("pod_labels", "namespace_labels"),
    [
        pytest.param({"app.kubernetes.io/name": "grafana"}, SCRAPER_LABEL, id="unlabelled pod, labelled namespace"),
        pytest.param(SCRAPER_LABEL, {}, id="labelled pod, unlabelled namespace"),
        pytest.param({}, {}, id="any pod elsewhere"),
    ],
)
def test_the_metrics_port_admits_no_caller_without_both_scraper_labels(manifests, pod_labels, namespace_labels):
    caller = Pod(pod_labels, {"kubernetes.io/metadata.name": "monitoring", **namespace_labels})
    assert _admitted(manifests, caller) == set()


def test_a_scraper_label_inside_lucid_tron_opens_nothing(manifests):
    assert _admitted(manifests, Pod(SCRAPER_LABEL, _home_namespace(manifests))) == set()


# -- secrets -----------------------------------------------------------------------------------------------------


def test_compose_secrets_are_files_under_the_ignored_secrets_folder(compose):
    assert "secrets/" in (DEPLOY / ".gitignore").read_text().split()
    for name, secret in compose["secrets"].items():
        assert set(secret) == {"file"}, name
        assert secret["file"] == f"./secrets/{name}"


def test_secret_example_holds_only_placeholders():
    for doc in yaml.safe_load_all((K3S / "secret.example.yaml").read_text()):
        assert doc["kind"] == "Secret"
        assert "data" not in doc
        assert set(doc["stringData"].values()) == {"REPLACE_ME"}


def test_no_secret_is_a_kubernetes_resource(manifests):
    assert _objects(manifests, "Secret") == {}


def test_no_secret_value_is_set_in_an_environment(compose, manifests):
    environments = {f"compose/{s.name}": _compose_env(compose, s.name) for s in SERVICES}
    environments |= {f"k3s/{s.name}": _k3s_env(manifests, s.name) for s in SERVICES}
    for where, env in environments.items():
        service = next(s for s in SERVICES if where.endswith("/" + s.name))
        secret = _variables(service)
        for variable, value in env.items():
            assert not any(word in variable for word in SECRET_WORDS), f"{where}: {variable} belongs in a secret file"
            if secret.get(variable):
                # A secret setting given inline may only be a URL without credentials (MONGO_URL, REDIS_URL).
                assert urlsplit(value).password is None and urlsplit(value).username is None, f"{where}: {variable}"


# -- mutual TLS ---------------------------------------------------------------------------------------------------


def _deploy_texts() -> dict[str, str]:
    return {str(path.relative_to(DEPLOY)): path.read_text() for path in DEPLOY.rglob("*") if path.is_file()}


def test_no_deploy_file_but_the_readme_names_insecure_plaintext():
    # Not set, not even set to false: a deployment has no switch to flip.
    named = [name for name, text in _deploy_texts().items() if "INSECURE_PLAINTEXT" in text]
    assert named in ([], ["README.md"])


@pytest.mark.parametrize("name", SERVICE_IDS)
def test_compose_runs_each_service_with_mtls_from_its_own_certificate_folder(compose, name, tmp_path):
    service = next(s for s in SERVICES if s.name == name)
    settings = _load(service, _compose_env(compose, name), _compose_secrets(compose, name), tmp_path)
    assert settings.tls_files is not None
    assert {settings.tls_cert_file, settings.tls_key_file, settings.tls_ca_file} == {
        Path(TLS_MOUNT) / file for file in TLS_FILES
    }
    assert compose["services"][name]["volumes"] == [f"./secrets/pki/services/{name}:{TLS_MOUNT}:ro"]


@pytest.mark.parametrize("name", SERVICE_IDS)
def test_compose_health_check_asks_the_plaintext_health_port(compose, name, tmp_path):
    service = next(s for s in SERVICES if s.name == name)
    settings = _load(service, _compose_env(compose, name), _compose_secrets(compose, name), tmp_path)
    assert settings.health_port == HEALTH_PORT
    # lucid_tron.healthcheck reads HEALTH_PORT from the container's environment.
    assert "--port" not in compose["services"][name]["healthcheck"]["test"]


def test_compose_mounts_no_certificate_folder_into_a_container_that_is_not_its_service(compose):
    for name, entry in compose["services"].items():
        for volume in entry.get("volumes") or []:
            if "secrets/pki" in str(volume):
                assert volume.startswith(f"./secrets/pki/services/{name}:"), name


@pytest.mark.parametrize("name", SERVICE_IDS)
def test_k3s_runs_each_service_with_mtls_from_its_own_secret(manifests, name, tmp_path):
    service = next(s for s in SERVICES if s.name == name)
    files = _k3s_secrets(manifests, name)
    assert {file for file in files if file.startswith("tls/")} == {f"tls/{file}" for file in TLS_FILES}
    settings = _load(service, _k3s_env(manifests, name), files, tmp_path)
    assert settings.tls_files is not None and settings.tls_cert_file == Path(TLS_MOUNT) / "cert.pem"
    assert settings.health_port == HEALTH_PORT
    pod = _objects(manifests, "Deployment")[name]["spec"]["template"]["spec"]
    (secrets,) = [volume for volume in pod["volumes"] if volume["name"] == "secrets"]
    tls_sources = [
        source["secret"]["name"]
        for source in secrets["projected"]["sources"]
        if any(item["path"].startswith("tls/") for item in source["secret"]["items"])
    ]
    assert tls_sources == [f"lucid-tron-tls-{name}"]


# -- the wallet/ops border ---------------------------------------------------------------------------------------


def test_compose_keeps_the_ops_plane_off_the_wallet_managers_networks(compose):
    # The Beta sidecar is the way from payment-gateway to wallet-manager: they share no network but `metrics`, on
    # which Docker does not filter ports; there wallet-manager's own ACL (mesh.json denies payment-gateway every
    # WalletService method) is the wall.
    assert _compose_networks(compose, "payment-gateway") & _compose_networks(compose, "wallet-manager") == {"metrics"}
    assert _compose_networks(compose, BETA_SIDECAR.name) & _compose_networks(compose, "payment-gateway")
    assert _compose_networks(compose, BETA_SIDECAR.name) & _compose_networks(compose, "wallet-manager")


@pytest.mark.parametrize("where", ["compose", "k3s"])
def test_the_sidecar_runs_the_shipped_border_policy(compose, manifests, where):
    env = _compose_env(compose, BETA_SIDECAR.name) if where == "compose" else _k3s_env(manifests, BETA_SIDECAR.name)
    assert "ACL_POLICY_FILE" not in env  # the shipped wallet-sidecar policy (deploy/policies/), in the image

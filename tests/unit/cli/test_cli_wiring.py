"""What `up` hands each service: its own port, every peer's address, the storage URLs, devnet, direct mode."""

from __future__ import annotations

import json
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from lucid_tron.cli._endpoints import Endpoints, EndpointsError
from lucid_tron.cli._services import BETA_SIDECAR, MESH, SERVICES, client_host, service_environment
from lucid_tron.pki import TlsFiles

PORTS = {service.name: 41000 + index for index, service in enumerate(MESH)}
METRICS_PORT = 41100
HEALTH_PORT = 41200
TLS = TlsFiles(Path("/state/pki/s/cert.pem"), Path("/state/pki/s/key.pem"), Path("/state/pki/s/ca.pem"))
OPERATOR_TLS = {
    "ca": "/state/pki/ca.pem",
    "operator_cert": "/state/pki/operators/alice/cert.pem",
    "operator_key": "/state/pki/operators/alice/key.pem",
}
BY_NAME = {service.name: service for service in MESH}


def environment(
    base: dict[str, str] | None = None,
    *,
    service: str = "usdt-manager",
    host: str = "127.0.0.1",
    tls: TlsFiles | None = TLS,
) -> dict[str, str]:
    return service_environment(
        base or {},
        service=BY_NAME[service],
        host=host,
        ports=PORTS,
        metrics_port=METRICS_PORT,
        health_port=HEALTH_PORT,
        tls=tls,
        trongrid_url="http://127.0.0.1:40000",
        usdt_contract="TBEKPf4ob4ZU4nfxbMSSZy3tuc4aLuPNPg",
        mongo_url="mongodb://127.0.0.1:40001/?replicaSet=secantus",
        redis_url="redis://127.0.0.1:40002/0",
        secrets_dir="/state/secrets",
        log_level="INFO",
        grace_s=5.0,
    )


def test_the_mesh_is_the_seven_services_of_the_architecture() -> None:
    assert [service.name for service in SERVICES] == [
        "tron-client",
        "tron-relay",
        "wallet-manager",
        "usdt-manager",
        "staking",
        "payment-gateway",
        "payout-router",
    ]
    assert BY_NAME["tron-relay"].module == "lucid_tron.services.tron_relay"
    assert BY_NAME["tron-relay"].grpc_service == "lucid.tron.v1.RelayService"


def test_a_service_listens_on_its_own_port_and_finds_every_peer() -> None:
    env = environment(service="usdt-manager")
    assert (env["GRPC_HOST"], env["GRPC_PORT"]) == ("127.0.0.1", str(PORTS["usdt-manager"]))
    assert env["TRON_CLIENT_ADDR"] == f"127.0.0.1:{PORTS['tron-client']}"
    assert env["WALLET_MANAGER_ADDR"] == f"127.0.0.1:{PORTS['wallet-manager']}"
    assert {service.address_variable for service in SERVICES} <= set(env)


def test_payment_gateway_reaches_wallet_manager_only_through_beta_sidecar() -> None:
    assert environment(service="payment-gateway")["WALLET_MANAGER_ADDR"] == f"127.0.0.1:{PORTS['beta-sidecar']}"
    assert environment(service="payout-router")["WALLET_MANAGER_ADDR"] == f"127.0.0.1:{PORTS['wallet-manager']}"


def test_beta_sidecar_listens_on_its_own_port_in_front_of_wallet_manager() -> None:
    env = environment(service="beta-sidecar")
    assert env["GRPC_PORT"] == str(PORTS["beta-sidecar"])
    assert env["BACKEND_ADDR"] == f"127.0.0.1:{PORTS['wallet-manager']}"
    assert env["BACKEND_SERVICE"] == BETA_SIDECAR.grpc_service == "lucid.tron.v1.WalletService"


def test_a_service_serves_its_metrics_on_its_own_port_and_host() -> None:
    env = environment(host="0.0.0.0")
    assert (env["METRICS_HOST"], env["METRICS_PORT"]) == ("0.0.0.0", str(METRICS_PORT))


def test_storage_devnet_and_logs_are_wired() -> None:
    env = environment()
    assert env["TRONGRID_URL"] == "http://127.0.0.1:40000"
    assert env["USDT_CONTRACT"] == "TBEKPf4ob4ZU4nfxbMSSZy3tuc4aLuPNPg"
    assert env["MONGO_URL"].startswith("mongodb://127.0.0.1:40001")
    assert env["REDIS_URL"] == "redis://127.0.0.1:40002/0"
    assert (env["LOG_FORMAT"], env["SECRETS_DIR"], env["SHUTDOWN_GRACE_S"]) == ("json", "/state/secrets", "5")


def test_devnet_on_loopback_is_reached_directly_the_only_way_tor_proxy_allows() -> None:
    env = environment({"TOR_ONLY": "true"})
    assert env["USE_TOR_FOR_EXTERNAL_CALLS"] == "false"
    assert env["ALLOW_DIRECT_EXTERNAL_CALLS"] == "true"
    assert env["TOR_ONLY"] == "false"


def test_the_callers_environment_passes_through_but_cannot_override_what_up_decides() -> None:
    env = environment({"PATH": "/usr/bin", "MONGO_URL": "mongodb://elsewhere", "MONGO_URL_FILE": "/run/secrets/x"})
    assert env["PATH"] == "/usr/bin"
    assert env["MONGO_URL"].startswith("mongodb://127.0.0.1:40001")
    assert "MONGO_URL_FILE" not in env


def test_peers_of_a_service_listening_on_every_interface_connect_over_loopback() -> None:
    env = environment(host="0.0.0.0")
    assert env["GRPC_HOST"] == "0.0.0.0"
    assert env["TRON_CLIENT_ADDR"] == f"127.0.0.1:{PORTS['tron-client']}"


@pytest.mark.parametrize(
    ("host", "client"), [("0.0.0.0", "127.0.0.1"), ("::", "127.0.0.1"), ("10.0.0.5", "10.0.0.5"), ("::1", "[::1]")]
)
def test_client_host(host: str, client: str) -> None:
    assert client_host(host) == client


ENDPOINTS = Endpoints(
    services={service.name: f"127.0.0.1:{PORTS[service.name]}" for service in SERVICES},
    devnet_url="http://127.0.0.1:40000",
    usdt_contract="TBEKPf4ob4ZU4nfxbMSSZy3tuc4aLuPNPg",
    mongo_url="mongodb://127.0.0.1:40001/?replicaSet=secantus",
    redis_url="redis://127.0.0.1:40002/0",
    metrics={service.name: f"127.0.0.1:{PORTS[service.name] + 100}" for service in SERVICES},
    health={service.name: f"127.0.0.1:{PORTS[service.name] + 200}" for service in SERVICES},
    tls=OPERATOR_TLS,
)


def test_endpoints_json_has_the_documented_shape(tmp_path: Path) -> None:
    path = ENDPOINTS.write(tmp_path)
    assert path == tmp_path / "endpoints.json"
    assert json.loads(path.read_text()) == {
        "services": {service.name: f"127.0.0.1:{PORTS[service.name]}" for service in SERVICES},
        "metrics": {service.name: f"127.0.0.1:{PORTS[service.name] + 100}" for service in SERVICES},
        "health": {service.name: f"127.0.0.1:{PORTS[service.name] + 200}" for service in SERVICES},
        "tls": OPERATOR_TLS,
        "devnet": {"url": "http://127.0.0.1:40000", "usdt_contract": "TBEKPf4ob4ZU4nfxbMSSZy3tuc4aLuPNPg"},
        "mongo_url": "mongodb://127.0.0.1:40001/?replicaSet=secantus",
        "redis_url": "redis://127.0.0.1:40002/0",
    }
    assert Endpoints.read(tmp_path) == ENDPOINTS


def test_endpoints_json_is_private_because_given_urls_may_carry_passwords(tmp_path: Path) -> None:
    path = ENDPOINTS.write(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["endpoints.json"]


def test_a_missing_endpoints_file_says_which_state_dir_to_run_up_with(tmp_path: Path) -> None:
    with pytest.raises(EndpointsError, match=r"is `lucid-tron up --state-dir .*` running\?"):
        Endpoints.read(tmp_path)


@pytest.mark.parametrize("text", ["not json", "{}", '{"services": ["tron-client"]}'])
def test_a_foreign_endpoints_file_is_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / "endpoints.json").write_text(text)
    with pytest.raises(EndpointsError):
        Endpoints.read(tmp_path)


def test_a_service_gets_its_certificate_files_and_its_plaintext_health_port() -> None:
    env = environment(service="wallet-manager")
    assert env["GRPC_INSECURE_PLAINTEXT"] == "false"
    assert (env["TLS_CERT_FILE"], env["TLS_KEY_FILE"], env["TLS_CA_FILE"]) == tuple(
        str(path) for path in (TLS.certificate, TLS.key, TLS.ca)
    )
    assert env["HEALTH_PORT"] == str(HEALTH_PORT)


def test_grpc_core_logs_only_errors_unless_the_caller_asked_for_more() -> None:
    assert environment()["GRPC_VERBOSITY"] == "ERROR"
    assert environment({"GRPC_VERBOSITY": "DEBUG"})["GRPC_VERBOSITY"] == "DEBUG"


def test_insecure_plaintext_is_set_for_the_service_and_no_certificate_is_named() -> None:
    env = environment({"GRPC_INSECURE_PLAINTEXT": "false"}, tls=None)
    assert env["GRPC_INSECURE_PLAINTEXT"] == "true"
    assert not {"TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CA_FILE"} & set(env)


def test_a_plaintext_mesh_writes_no_tls_entry(tmp_path: Path) -> None:
    path = replace(ENDPOINTS, tls=None).write(tmp_path)
    assert "tls" not in json.loads(path.read_text())
    assert Endpoints.read(tmp_path).tls is None


def test_a_tls_entry_naming_other_files_is_refused(tmp_path: Path) -> None:
    data = {**ENDPOINTS.to_json(), "tls": {**OPERATOR_TLS, "operator_password": "x"}}
    (tmp_path / "endpoints.json").write_text(json.dumps(data))
    with pytest.raises(EndpointsError, match="exactly ca, operator_cert and operator_key"):
        Endpoints.read(tmp_path)


def test_wallet_manager_alone_gets_the_master_secret_in_the_secrets_dir() -> None:
    assert environment(service="wallet-manager")["ENCRYPTION_KEY_FILE"] == "/state/secrets/wallet_master_key"
    assert "ENCRYPTION_KEY_FILE" not in environment(service="payout-router")


def test_up_creates_the_master_secret_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    from lucid_tron.cli._up import _ensure_master_key

    path = tmp_path / "wallet_master_key"
    _ensure_master_key(path)
    first = path.read_bytes()
    _ensure_master_key(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == first
    assert len(first.strip()) == 64

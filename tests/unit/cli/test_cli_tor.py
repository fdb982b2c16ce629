"""`lucid-tron up --tor`: what the services get (Tor required, as in production) and what endpoints.json says.

The running thing (a Tor network, the mesh behind it, a crash of tor) is tested in tests/tor_e2e/.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lucid_tron.cli._endpoints import Endpoints
from lucid_tron.cli._main import build_parser
from lucid_tron.cli._services import (
    DEVNET_DIRECT,
    SERVICES,
    TorEndpoint,
    service_environment,
    trongrid_url_through_tor,
)
from lucid_tron.cli._up import _EndpointsWithTor
from lucid_tron.config import load_settings
from tor_proxy import TorSettings

PORTS = {service.name: 41000 + index for index, service in enumerate(SERVICES)}
METRICS_PORT = 41100
BY_NAME = {service.name: service for service in SERVICES}
TOR = TorEndpoint("127.0.0.1", 39050, 39051, "/state/tor/client/control_auth_cookie")


def environment(base: dict[str, str] | None = None, *, service: str = "tron-client") -> dict[str, str]:
    return service_environment(
        base or {},
        service=BY_NAME[service],
        host="127.0.0.1",
        ports=PORTS,
        metrics_port=METRICS_PORT,
        health_port=METRICS_PORT + 1,
        tls=None,
        trongrid_url=trongrid_url_through_tor(40000),
        usdt_contract="TBEKPf4ob4ZU4nfxbMSSZy3tuc4aLuPNPg",
        mongo_url="mongodb://127.0.0.1:40001/?replicaSet=secantus",
        redis_url="redis://127.0.0.1:40002/0",
        secrets_dir="/state/secrets",
        log_level="INFO",
        grace_s=5.0,
        tor=TOR,
    )


def test_up_runs_without_tor_unless_asked() -> None:
    assert build_parser().parse_args(["up"]).tor is False
    assert build_parser().parse_args(["up", "--tor"]).tor is True


def test_behind_tor_services_know_devnet_only_by_a_name_the_exit_resolves() -> None:
    assert trongrid_url_through_tor(40000) == "http://trongrid.test:40000"
    assert environment()["TRONGRID_URL"] == "http://trongrid.test:40000"


def test_behind_tor_every_service_gets_tor_required_with_the_networks_ports_and_cookie() -> None:
    env = environment()
    assert env["USE_TOR_FOR_EXTERNAL_CALLS"] == "true"
    assert (env["TOR_ONLY"], env["TOR_PREVENT_DNS_LEAKS"]) == ("true", "true")
    assert (env["TOR_PROXY_HOST"], env["TOR_PROXY_SOCKS_PORT"], env["TOR_PROXY_CONTROL_PORT"]) == (
        "127.0.0.1",
        "39050",
        "39051",
    )
    assert env["TOR_CONTROL_COOKIE_PATH"] == "/state/tor/client/control_auth_cookie"
    assert "ALLOW_DIRECT_EXTERNAL_CALLS" not in env


def test_tor_proxy_reads_that_environment_as_tor_required_through_those_ports() -> None:
    config = load_settings(TorSettings, environment()).tor_config
    assert not config.direct
    assert (config.socks_host, config.socks_port, config.control_port) == ("127.0.0.1", 39050, 39051)
    assert config.control_cookie_path == "/state/tor/client/control_auth_cookie"
    assert config.remote_dns


@pytest.mark.parametrize(
    "variable",
    ["TOR_PROXY", "TOR_CONTROL_PASSWORD", "TOR_CONTROL_PASSWORD_FILE", "ALLOW_DIRECT_EXTERNAL_CALLS"],
)
def test_behind_tor_the_callers_contradicting_tor_settings_are_dropped(variable: str) -> None:
    base = {variable: "socks5h://10.0.0.9:9050" if variable == "TOR_PROXY" else "x", "PATH": "/usr/bin"}
    env = environment(base)
    assert variable not in env
    load_settings(TorSettings, env)  # accepted: a TOR_PROXY or a password beside the cookie would be refused


def test_behind_tor_the_callers_tuning_of_tor_passes_through() -> None:
    env = environment({"TOR_HEALTH_CHECK_INTERVAL": "2", "TOR_CONNECTIVITY_TIMEOUT": "10", "TOR_ONLY": "false"})
    assert (env["TOR_HEALTH_CHECK_INTERVAL"], env["TOR_CONNECTIVITY_TIMEOUT"]) == ("2", "10")
    assert env["TOR_ONLY"] == "true"  # not tuning: `up --tor` decides it


def test_without_tor_devnet_is_still_reached_directly() -> None:
    env = service_environment(
        {},
        service=BY_NAME["tron-client"],
        host="127.0.0.1",
        ports=PORTS,
        metrics_port=METRICS_PORT,
        health_port=METRICS_PORT + 1,
        tls=None,
        trongrid_url="http://127.0.0.1:40000",
        usdt_contract="TBEKPf4ob4ZU4nfxbMSSZy3tuc4aLuPNPg",
        mongo_url="mongodb://127.0.0.1:40001/?replicaSet=secantus",
        redis_url="redis://127.0.0.1:40002/0",
        secrets_dir="/state/secrets",
        log_level="INFO",
        grace_s=5.0,
    )
    assert {key: env[key] for key in DEVNET_DIRECT} == DEVNET_DIRECT
    assert "TOR_PROXY_SOCKS_PORT" not in env


ENDPOINTS = dict(
    services={service.name: f"127.0.0.1:{PORTS[service.name]}" for service in SERVICES},
    devnet_url="http://127.0.0.1:40000",
    usdt_contract="TBEKPf4ob4ZU4nfxbMSSZy3tuc4aLuPNPg",
    mongo_url="mongodb://127.0.0.1:40001/?replicaSet=secantus",
    redis_url="redis://127.0.0.1:40002/0",
    metrics={service.name: f"127.0.0.1:{PORTS[service.name] + 100}" for service in SERVICES},
    health={service.name: f"127.0.0.1:{PORTS[service.name] + 200}" for service in SERVICES},
    tls=None,
)


def test_endpoints_json_gains_a_tor_entry_that_readers_of_the_rest_ignore(tmp_path: Path) -> None:
    tor = {"socks_port": 39050, "control_port": 39051, "pids": {"client": 123}, "up_pid": 100}
    _EndpointsWithTor(**ENDPOINTS, tor=tor).write(tmp_path)

    assert json.loads((tmp_path / "endpoints.json").read_text())["tor"] == tor
    assert Endpoints.read(tmp_path) == Endpoints(**ENDPOINTS)


def test_endpoints_json_without_tor_has_no_tor_entry(tmp_path: Path) -> None:
    _EndpointsWithTor(**ENDPOINTS).write(tmp_path)
    assert "tor" not in json.loads((tmp_path / "endpoints.json").read_text())

"""TronGridSettings: TronGrid's and Tor's variables read as one group, and plain http:// refused while Tor is required.

Through Tor, a plain-HTTP request is readable and writable by the exit node: it would see the API key and could
answer with forged blocks and receipts. Only hosts no exit sits in front of may be reached over http://.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from lucid_tron.config import ConfigError, load_settings
from lucid_tron.trongrid import TronGridSettings

DIRECT = {"USE_TOR_FOR_EXTERNAL_CALLS": "false", "ALLOW_DIRECT_EXTERNAL_CALLS": "true"}


def load(url: str, **env: str) -> TronGridSettings:
    return load_settings(TronGridSettings, {"TRONGRID_URL": url, **env})


def problems(env: Mapping[str, str]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(TronGridSettings, env)
    return {problem.variable: problem.message for problem in caught.value.problems}


@pytest.mark.parametrize("url", ["http://api.trongrid.io", "http://10.0.0.5:8090", "http://nile.trongrid.io/"])
def test_plain_http_to_a_public_host_is_refused_while_tor_is_required(url: str) -> None:
    message = problems({"TRONGRID_URL": url})["TRONGRID_URL"]
    assert message.startswith("plain http://") and "Tor is required" in message


@pytest.mark.parametrize(
    "url",
    [
        "https://api.trongrid.io",
        "http://127.0.0.1:8090",
        "http://127.3.4.5:8090",
        "http://[::1]:8090",
        "http://localhost:8090",
        "http://trongrid.test:8090",
        "http://abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion",
    ],
)
def test_https_loopback_test_names_and_onion_services_are_accepted_while_tor_is_required(url: str) -> None:
    settings = load(url)
    assert settings.tor_required and settings.trongrid_url == url


def test_plain_http_to_any_host_is_accepted_with_tor_turned_off() -> None:
    settings = load("http://192.168.1.20:8090", **DIRECT)
    assert not settings.tor_required and settings.tor_config.direct


def test_a_name_that_only_ends_like_a_test_name_is_refused() -> None:
    assert "TRONGRID_URL" in problems({"TRONGRID_URL": "http://trongrid.test.example.com"})


def test_the_refusal_is_listed_with_every_other_problem() -> None:
    found = problems({"TRONGRID_URL": "http://api.trongrid.io", "TOR_PREVENT_DNS_LEAKS": "false", "GRPC_PORT": "70000"})
    assert set(found) == {"TRONGRID_URL", "TOR_PREVENT_DNS_LEAKS", "GRPC_PORT"}


def test_the_tor_settings_are_read_with_the_trongrid_settings() -> None:
    settings = load("https://api.trongrid.io", TOR_PROXY="socks5h://tor:9050", TOR_PROXY_CONTROL_PORT="9051")
    config = settings.tor_config
    assert (config.socks_host, config.socks_port, config.control_port, config.direct) == ("tor", 9050, 9051, False)

"""`lucid-tron config` prints the configuration reference from the services' own settings classes."""

import re
from pathlib import Path

from lucid_tron.cli import main
from lucid_tron.cli._config import config_reference, settings_type_of, uses_tor
from lucid_tron.cli._services import SERVICES
from lucid_tron.mesh import describe_settings

README = Path(__file__).resolve().parents[3] / "README.md"


def test_every_service_has_exactly_one_settings_class():
    for service in SERVICES:
        assert settings_type_of(service.module).__name__.endswith("Settings")


def test_reference_lists_every_variable_each_service_reads():
    reference = config_reference()
    for service in SERVICES:
        assert f"#### {service.name} " in reference
        for info in describe_settings(settings_type_of(service.module)):
            assert f"`{info.variable}`" in reference


def test_required_and_secret_settings_are_marked():
    rows = {line.split("|")[1].strip(): line for line in config_reference().splitlines() if line.startswith("| `")}
    assert "**required**" in rows["`TRONGRID_URL`"]
    assert "secret" in rows["`TRONGRID_API_KEY`"]
    assert "`50051`" in rows["`GRPC_PORT`"]


def test_table_cells_hold_no_stray_pipes():
    for line in config_reference().splitlines():
        if line.startswith("| `"):
            assert line.count("|") == 5, line


def test_config_command_prints_the_reference(capsys):
    assert main(["config"]) == 0
    assert capsys.readouterr().out == config_reference()


def test_readme_reference_is_the_generated_one():
    text = README.read_text()
    match = re.search(r"<!-- config-reference:start -->\n(.*?)<!-- config-reference:end -->", text, re.S)
    assert match, "README.md lacks the config-reference markers"
    assert match.group(1) == config_reference(), "README is stale: paste the output of `lucid-tron config`"


def test_the_services_that_use_tor_are_those_whose_settings_include_tor_settings():
    assert {service.name for service in SERVICES if uses_tor(service.module)} == {"tron-client", "tron-relay"}


def test_tor_settings_are_listed_once_for_the_services_that_read_them():
    reference = config_reference()
    assert reference.count("| `TOR_PROXY_HOST` |") == 1
    assert "#### Tor (tron-client, tron-relay)" in reference

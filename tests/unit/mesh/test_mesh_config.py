"""Settings come from the environment and secret files, are typed, and every problem is reported at once."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

import pytest

from lucid_tron.mesh import ConfigError, LogFormat, LogLevel, ServiceSettings, load_settings, setting


class Network(enum.Enum):
    DEVNET = "devnet"
    NILE = "nile"
    MAINNET = "mainnet"


@dataclass(frozen=True, kw_only=True)
class RelaySettings(ServiceSettings):
    redis_url: str = setting("REDIS_URL", schemes=("redis", "rediss"))
    cache_ttl_s: float = setting("RELAY_CACHE_TTL_S", default=3.0, ge=0.1, le=60)
    network: Network = setting("TRON_NETWORK", default=Network.DEVNET)
    tor_only: bool = setting("TOR_ONLY", default=True)
    max_batch: int | None = setting("RELAY_MAX_BATCH", default=None, ge=1)
    trongrid_api_key: str | None = setting("TRONGRID_API_KEY", default=None, secret=True)


def env(tmp_path: Path, **values: str) -> dict[str, str]:
    """An environment whose secrets directory is an empty temp dir, so /run/secrets of the host never leaks in."""
    return {"SECRETS_DIR": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:6379/0", **values}


def problems(error: ConfigError) -> dict[str, str]:
    return {problem.variable: problem.message for problem in error.problems}


def test_defaults_apply_when_variables_are_unset(tmp_path: Path) -> None:
    settings = load_settings(RelaySettings, env(tmp_path))
    assert (settings.host, settings.port, settings.shutdown_grace_s) == ("127.0.0.1", 50051, 5.0)
    assert (settings.log_level, settings.log_format, settings.otel_endpoint) == (LogLevel.INFO, LogFormat.JSON, None)
    assert (settings.cache_ttl_s, settings.network) == (3.0, Network.DEVNET)
    assert (settings.tor_only, settings.max_batch) == (True, None)


def test_variables_are_parsed_to_the_field_types(tmp_path: Path) -> None:
    settings = load_settings(
        RelaySettings,
        env(
            tmp_path,
            GRPC_HOST="0.0.0.0",
            GRPC_PORT="50071",
            LOG_LEVEL="debug",
            LOG_FORMAT="TEXT",
            OTEL_EXPORTER_OTLP_ENDPOINT="http://collector:4317",
            SHUTDOWN_GRACE_S="2.5",
            RELAY_CACHE_TTL_S="0.5",
            TRON_NETWORK="Nile",
            TOR_ONLY="off",
            RELAY_MAX_BATCH="20",
        ),
    )
    assert (settings.host, settings.port, settings.bind_address) == ("0.0.0.0", 50071, "0.0.0.0:50071")
    assert (settings.log_level, settings.log_format) == (LogLevel.DEBUG, LogFormat.TEXT)
    assert (settings.otel_endpoint, settings.shutdown_grace_s) == ("http://collector:4317", 2.5)
    assert (settings.cache_ttl_s, settings.network) == (0.5, Network.NILE)
    assert (settings.tor_only, settings.max_batch) == (False, 20)


def test_every_problem_is_reported_at_once_naming_its_variable(tmp_path: Path) -> None:
    bad = env(
        tmp_path,
        GRPC_PORT="fifty",
        SHUTDOWN_GRACE_S="-1",
        LOG_LEVEL="loud",
        TOR_ONLY="maybe",
        RELAY_CACHE_TTL_S="nan",
        REDIS_URL="http://127.0.0.1:6379",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(RelaySettings, bad)
    found = problems(caught.value)
    assert set(found) == {"GRPC_PORT", "SHUTDOWN_GRACE_S", "LOG_LEVEL", "TOR_ONLY", "RELAY_CACHE_TTL_S", "REDIS_URL"}
    assert found["GRPC_PORT"] == "must be an integer, got 'fifty'"
    assert found["SHUTDOWN_GRACE_S"] == "must be >= 0, got -1.0"
    assert found["LOG_LEVEL"] == "must be one of DEBUG, INFO, WARNING, ERROR, got 'loud'"
    assert "redis://" in found["REDIS_URL"]
    message = str(caught.value)
    assert message.startswith("invalid configuration (6 problem(s)):")
    assert "\n  GRPC_PORT: must be an integer, got 'fifty'" in message


def test_a_required_setting_that_is_unset_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(RelaySettings, {"SECRETS_DIR": str(tmp_path)})
    assert problems(caught.value) == {"REDIS_URL": "required, not set"}


def test_an_empty_variable_counts_as_unset(tmp_path: Path) -> None:
    settings = load_settings(RelaySettings, env(tmp_path, GRPC_PORT="", RELAY_MAX_BATCH=""))
    assert (settings.port, settings.max_batch) == (50051, None)


def test_a_port_above_65535_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(RelaySettings, env(tmp_path, GRPC_PORT="70000"))
    assert problems(caught.value) == {"GRPC_PORT": "must be <= 65535, got 70000"}


def test_a_secret_is_read_from_the_secrets_directory(tmp_path: Path) -> None:
    (tmp_path / "trongrid_api_key").write_text("key-from-file\n")
    settings = load_settings(RelaySettings, env(tmp_path))
    assert settings.trongrid_api_key == "key-from-file"


def test_a_secret_file_wins_over_the_variable(tmp_path: Path) -> None:
    (tmp_path / "trongrid_api_key").write_text("key-from-file")
    settings = load_settings(RelaySettings, env(tmp_path, TRONGRID_API_KEY="key-from-env"))
    assert settings.trongrid_api_key == "key-from-file"


def test_a_var_file_variable_wins_over_the_secrets_directory(tmp_path: Path) -> None:
    (tmp_path / "trongrid_api_key").write_text("key-from-dir")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("key-from-named-file\n")
    settings = load_settings(RelaySettings, env(tmp_path, TRONGRID_API_KEY_FILE=str(elsewhere)))
    assert settings.trongrid_api_key == "key-from-named-file"


def test_a_secret_falls_back_to_the_variable_in_development(tmp_path: Path) -> None:
    settings = load_settings(RelaySettings, env(tmp_path, TRONGRID_API_KEY="key-from-env"))
    assert settings.trongrid_api_key == "key-from-env"


def test_an_unreadable_secret_file_names_the_file_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(RelaySettings, env(tmp_path, TRONGRID_API_KEY_FILE=str(tmp_path / "missing")))
    assert list(problems(caught.value)) == ["TRONGRID_API_KEY_FILE"]
    assert "cannot read secret file" in problems(caught.value)["TRONGRID_API_KEY_FILE"]


def test_plain_settings_are_not_read_from_secret_files(tmp_path: Path) -> None:
    (tmp_path / "grpc_port").write_text("1234")
    assert load_settings(RelaySettings, env(tmp_path)).port == 50051


def test_a_secret_value_never_appears_in_errors_or_repr(tmp_path: Path) -> None:
    @dataclass(frozen=True, kw_only=True)
    class WalletSettings(ServiceSettings):
        seed_passphrase: str = setting("SEED_PASSPHRASE", secret=True, schemes=("x",))

    with pytest.raises(ConfigError) as caught:
        load_settings(WalletSettings, {"SECRETS_DIR": str(tmp_path), "SEED_PASSPHRASE": "hunter2"})
    assert "hunter2" not in str(caught.value)
    (tmp_path / "seed_passphrase").write_text("x://hunter2")
    settings = load_settings(WalletSettings, {"SECRETS_DIR": str(tmp_path)})
    assert settings.seed_passphrase == "x://hunter2"
    assert "hunter2" not in repr(settings)


def test_a_required_secret_says_where_it_can_be_provided(tmp_path: Path) -> None:
    @dataclass(frozen=True, kw_only=True)
    class WalletSettings(ServiceSettings):
        seed_passphrase: str = setting("SEED_PASSPHRASE", secret=True)

    with pytest.raises(ConfigError) as caught:
        load_settings(WalletSettings, {"SECRETS_DIR": str(tmp_path)})
    assert "SEED_PASSPHRASE_FILE" in problems(caught.value)["SEED_PASSPHRASE"]
    assert "$SECRETS_DIR/seed_passphrase" in problems(caught.value)["SEED_PASSPHRASE"]


def test_settings_constructed_directly_are_validated_too() -> None:
    with pytest.raises(ConfigError) as caught:
        ServiceSettings(port=-1, shutdown_grace_s=1000, otel_endpoint="collector:4317")
    assert set(problems(caught.value)) == {"GRPC_PORT", "SHUTDOWN_GRACE_S", "OTEL_EXPORTER_OTLP_ENDPOINT"}


def test_a_field_without_setting_is_a_programming_error(tmp_path: Path) -> None:
    @dataclass(frozen=True, kw_only=True)
    class Sloppy(ServiceSettings):
        undeclared: int = 3

    with pytest.raises(TypeError, match="undeclared"):
        load_settings(Sloppy, env(tmp_path))


def test_ipv6_hosts_are_bracketed_in_the_bind_address() -> None:
    assert ServiceSettings(host="::", port=50051).bind_address == "[::]:50051"


@dataclass(frozen=True, kw_only=True)
class ContractSettings(ServiceSettings):
    contract: str = setting("CONTRACT", valid_if=(str.isupper, "upper case"))
    signing_key: str | None = setting("SIGNING_KEY", default=None, secret=True, valid_if=(str.isupper, "upper case"))


def test_a_value_failing_its_rule_is_a_problem_saying_what_it_must_be(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(ContractSettings, env(tmp_path, CONTRACT="usdt"))
    assert problems(caught.value) == {"CONTRACT": "must be upper case, got 'usdt'"}


def test_a_value_meeting_its_rule_is_accepted(tmp_path: Path) -> None:
    assert load_settings(ContractSettings, env(tmp_path, CONTRACT="USDT")).contract == "USDT"


def test_a_secret_failing_its_rule_is_reported_without_its_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(ContractSettings, env(tmp_path, CONTRACT="USDT", SIGNING_KEY="hunter2"))
    assert problems(caught.value) == {"SIGNING_KEY": "must be upper case, got the value"}
    assert "hunter2" not in str(caught.value)

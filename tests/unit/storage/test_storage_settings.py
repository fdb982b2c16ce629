"""MongoSettings and RedisSettings: each variable declared once, composed into a service's settings."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lucid_tron.config import ConfigError, load_settings
from lucid_tron.mesh import ServiceSettings
from lucid_tron.storage import MongoSettings, RedisSettings


@dataclass(frozen=True, kw_only=True)
class LedgerSettings(MongoSettings, RedisSettings, ServiceSettings):
    pass


def test_a_service_composes_the_groups_and_reads_their_variables():
    settings = load_settings(
        LedgerSettings,
        {"MONGO_URL": "mongodb://db:27017/?replicaSet=rs0", "REDIS_URL": "redis://cache:6379/0", "GRPC_PORT": "6000"},
    )

    assert (settings.mongo_url, settings.redis_url, settings.port) == (
        "mongodb://db:27017/?replicaSet=rs0",
        "redis://cache:6379/0",
        6000,
    )


def test_mongo_database_is_none_unless_set_so_the_store_picks_the_services_own():
    assert load_settings(MongoSettings, {"MONGO_URL": "mongodb://db"}).mongo_database is None
    assert load_settings(MongoSettings, {"MONGO_URL": "mongodb://db", "MONGO_DATABASE": "x"}).mongo_database == "x"


def test_urls_are_secrets_read_from_files(tmp_path):
    (tmp_path / "mongo_url").write_text("mongodb+srv://user:pw@cluster.example\n")

    settings = load_settings(MongoSettings, {"SECRETS_DIR": str(tmp_path)})

    assert settings.mongo_url == "mongodb+srv://user:pw@cluster.example"
    assert "pw" not in repr(settings)


@pytest.mark.parametrize(
    ("settings_type", "environ", "variable"),
    [
        (MongoSettings, {"MONGO_URL": "redis://db"}, "MONGO_URL"),
        (MongoSettings, {}, "MONGO_URL"),
        (RedisSettings, {"REDIS_URL": "http://cache"}, "REDIS_URL"),
    ],
)
def test_a_missing_or_wrong_scheme_url_is_reported_by_its_variable(settings_type, environ, variable):
    with pytest.raises(ConfigError) as caught:
        load_settings(settings_type, environ)

    assert [problem.variable for problem in caught.value.problems] == [variable]

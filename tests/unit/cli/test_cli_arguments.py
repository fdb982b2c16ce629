"""`lucid-tron` parses its commands with helpful errors, and `devnet` is devnet's own command."""

from __future__ import annotations

from pathlib import Path

import pytest

from lucid_tron.cli import main
from lucid_tron.cli._main import build_parser

FUNDED = "TCPrNU1gePQ5BnoGe8vg6yyDqNwmHExBEw"


def test_help_lists_the_three_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for command in ("up", "status", "devnet"):
        assert f"\n    {command} " in out


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_up_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("LUCID_STATE_DIR", "MONGO_URL", "REDIS_URL"):
        monkeypatch.delenv(variable, raising=False)
    args = build_parser().parse_args(["up"])
    assert args.state_dir == Path(".state")
    assert (args.host, args.base_port, args.block_interval, args.fund) == ("127.0.0.1", None, 3.0, [])
    assert (args.mongo_url, args.redis_url, args.own_redis) == (None, "redis://127.0.0.1:6379/0", False)


def test_the_state_dir_and_storage_urls_default_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUCID_STATE_DIR", "/srv/lucid")
    monkeypatch.setenv("MONGO_URL", "mongodb://db:27017")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/2")
    up = build_parser().parse_args(["up"])
    assert up.state_dir == Path("/srv/lucid")
    assert (up.mongo_url, up.redis_url) == ("mongodb://db:27017", "redis://cache:6379/2")
    assert build_parser().parse_args(["status"]).state_dir == Path("/srv/lucid")


def test_fund_is_repeatable() -> None:
    args = build_parser().parse_args(["up", "--fund", f"{FUNDED}:1000000:2", "--fund", f"{FUNDED}:0:5"])
    assert args.fund == [f"{FUNDED}:1000000:2", f"{FUNDED}:0:5"]


@pytest.mark.parametrize(
    "spec", ["TNotAnAddress:1:1", f"{FUNDED}:1:2:3", f"{FUNDED}:-1:0", f"{FUNDED}:1.5:0"], ids=str
)
def test_a_malformed_fund_is_refused_before_anything_starts(spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["up", "--fund", spec])
    assert exited.value.code == 2
    assert "argument --fund" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value"), [("--base-port", "70000"), ("--block-interval", "-1"), ("--ready-timeout", "0")]
)
def test_out_of_range_numbers_are_refused(option: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["up", option, value])
    assert exited.value.code == 2
    assert f"argument {option}" in capsys.readouterr().err


def test_devnet_takes_devnet_options_as_they_are(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["devnet", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: lucid-tron devnet")
    assert "--solidification-lag" in out


def test_devnet_reports_its_own_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devnet", "--fund", "nonsense"]) == 2
    assert "lucid-tron devnet:" in capsys.readouterr().err

"""`python -m bench` runs end to end in a tiny mode and prints every row. No timing is checked: numbers belong to the
benchmark's own report (bench/README.md), never to a test."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: What `lucid-tron up` runs as services: the seven and beta-sidecar in front of wallet-manager.
SERVICES = ("tron-client", "tron-relay", "wallet-manager", "usdt-manager", "staking", "payment-gateway", "payout-router",
            "beta-sidecar")
TARGETS = (
    "echo, bare grpc.aio (baseline)",
    "echo on lucid_tron.mesh",
    "echo on lucid_tron.mesh, mTLS",
    "tron-relay GetNowBlock, cached",
    "tron-client GetAccount, uncached",
)
TINY = [
    "--requests", "50",
    "--duration", "1",
    "--warmup", "0.05",
    "--rounds", "1",
    "--start-repeats", "1",
    "--settle", "0.2",
]  # fmt: skip


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """The table `python -m bench` printed and the JSON it wrote, from one tiny run."""
    json_path = tmp_path_factory.mktemp("bench") / "results.json"
    env = {k: v for k, v in os.environ.items() if k not in {"MONGO_URL", "MONGO_URL_FILE", "REDIS_URL"}}
    finished = subprocess.run(
        [sys.executable, "-m", "bench", *TINY, "--json", str(json_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return finished.stdout, json.loads(json_path.read_text())


def _row(table: str, *cells: str) -> bool:
    """Whether some line of the table starts with `cells`, separated by spaces."""
    pattern = r"\s+".join(re.escape(cell) for cell in cells)
    return any(re.match(pattern + r"(\s|$)", line) for line in table.splitlines())


@pytest.mark.timeout(110)
def test_it_prints_a_throughput_row_per_target_concurrency_and_channel_count(bench_run: tuple[str, Any]) -> None:
    table, _ = bench_run
    for label in TARGETS:
        for concurrency, channels in (("1", "1"), ("64", "1"), ("64", "4")):
            assert _row(table, label, concurrency, channels), f"no row for {label} c={concurrency} ch={channels}"


@pytest.mark.timeout(110)
def test_it_prints_the_idle_memory_of_every_process_and_of_the_whole_mesh(bench_run: tuple[str, Any]) -> None:
    table, _ = bench_run
    for process in ("echo", "mesh-echo", "devnet", "mongo", "redis", *SERVICES):
        assert _row(table, process), f"no memory row for {process}"
    assert _row(table, "8", "services", "together")
    assert _row(table, "whole", "mesh")


@pytest.mark.timeout(110)
def test_it_prints_the_time_to_serving_of_every_service(bench_run: tuple[str, Any]) -> None:
    table, _ = bench_run
    section = table.split("TIME TO SERVING", 1)[1]
    for process in ("echo", "mesh-echo", *SERVICES):
        assert _row(section, process), f"no start-time row for {process}"
    assert "every service SERVING, devnet, database and Redis included" in section


@pytest.mark.timeout(110)
def test_it_prints_every_budget_as_pass_or_miss(bench_run: tuple[str, Any]) -> None:
    table, results = bench_run
    budgets = table.split("BUDGETS", 1)[1].strip().splitlines()[1:]
    assert len(budgets) == 4
    assert all(line.endswith(("PASS", "MISS")) for line in budgets)
    assert [budget["status"] in ("PASS", "MISS") for budget in results["budgets"]] == [True] * 4


@pytest.mark.timeout(110)
def test_the_json_holds_the_same_rows(bench_run: tuple[str, Any]) -> None:
    _, results = bench_run
    assert {row["label"] for row in results["throughput"]} == set(TARGETS)
    assert all(row["broken"] is None and row["rounds"] for row in results["throughput"])
    assert {row["process"] for row in results["memory"]["processes"]} >= {"echo", "mesh-echo", *SERVICES}
    assert {row["process"] for row in results["startup"]["processes"]} == {"echo", "mesh-echo", *SERVICES}

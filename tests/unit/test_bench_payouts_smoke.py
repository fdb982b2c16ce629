"""`python -m bench.payouts` runs end to end in a tiny mode (fast devnet blocks) and prints every row and budget. No
timing is checked: numbers belong to the benchmark's own report (bench/README.md), never to a test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_payouts_bench_prints_every_row_and_writes_its_json(tmp_path: Path) -> None:
    json_path = tmp_path / "payouts.json"
    finished = subprocess.run(
        [sys.executable, "-m", "bench.payouts", "--duration", "0.2", "--rounds", "1", "--concurrency", "1",
         "--payouts", "2", "--latency-payouts", "1", "--block-interval", "0.3", "--json", str(json_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    result = json.loads(json_path.read_text())
    assert list(result["rows"]) == ["raw insert c=1", "raw insert, _id index only c=1", "CreatePayout c=1"]
    assert result["rows"]["CreatePayout c=1"]["errors"] == 0
    assert len(result["end_to_end"]["to_broadcast_s"]) == 1
    assert finished.stdout.count("budget:") == 3

"""`python -m bench.wallet` runs end to end in a tiny mode and prints every row. No timing is checked: numbers belong
to the benchmark's own report (bench/README.md), never to a test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wallet_bench_prints_every_row_and_writes_its_json(tmp_path: Path) -> None:
    json_path = tmp_path / "wallet.json"
    finished = subprocess.run(
        [sys.executable, "-m", "bench.wallet", "--duration", "0.2", "--rounds", "1", "--concurrency", "1",
         "--json", str(json_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    rows = json.loads(json_path.read_text())["rows"]
    assert list(rows) == ["raw", "sign c=1", "derive c=1"]
    assert all(row["per_s"] > 0 and row["errors"] == 0 for row in rows.values())
    assert "budget: SignTransaction c=1" in finished.stdout

"""`python -m bench.energy` runs end to end with one transfer per mode and prints its rows. No number is checked but
that planning spent less than burning: the amounts belong to the benchmark's own report (bench/README.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_energy_bench_prints_both_modes_and_writes_its_json(tmp_path: Path) -> None:
    json_path = tmp_path / "energy.json"
    finished = subprocess.run(
        [sys.executable, "-m", "bench.energy", "--transfers", "2", "--json", str(json_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    results = json.loads(json_path.read_text())
    assert results["planned"]["sources"] == ["ENERGY_SOURCE_DELEGATED"]
    assert results["planned"]["sun_per_transfer"] < results["burning"]["sun_per_transfer"]
    assert "planned / burning" in finished.stdout

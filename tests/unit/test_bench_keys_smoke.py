"""`python -m bench.keys` runs end to end in a tiny mode and prints every row. No timing is checked: numbers belong
to the benchmark's own report (bench/README.md), never to a test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_keys_bench_prints_every_row_and_writes_its_json(tmp_path: Path) -> None:
    json_path = tmp_path / "keys.json"
    finished = subprocess.run(
        [sys.executable, "-m", "bench.keys", "--duration", "0.01", "--rounds", "1", "--json", str(json_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    results = json.loads(json_path.read_text())
    rows = [row["row"] for row in results["rows"]]
    assert rows == [
        "bip_utils, full path (baseline)",
        "bip_utils, account node kept",
        "lucid_tron.keys, full path",
        "HdSecret.address",
        "HdSecret.from_mnemonic + address",
        "scrypt (vault open)",
        "seal",
        "unseal",
    ]
    assert all(row in finished.stdout for row in rows)
    assert all(row["per_s"] > 0 for row in results["rows"])

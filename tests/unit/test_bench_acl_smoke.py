"""`python -m bench.acl` runs end to end in a tiny mode: every row measured, no call failed. No timing is checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROWS = ("plaintext, no ACL", "mTLS + ACL", "through beta-sidecar", "through beta-sidecar, undeclared")


def test_the_acl_bench_measures_every_row_without_errors() -> None:
    tiny = ["--requests", "50", "--duration", "1", "--warmup", "0.05", "--rounds", "1", "--acl-concurrency", "1,4"]
    finished = subprocess.run(
        [sys.executable, "-m", "bench.acl", *tiny], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    table = finished.stdout
    for row in ROWS:
        lines = [line for line in table.splitlines() if line.startswith(f"| {row} |")]
        assert len(lines) == 2, row
        assert all(line.endswith("| 0 |") for line in lines), lines
    assert "beta-sidecar adds < 1 ms to the p50 at concurrency 1" in table

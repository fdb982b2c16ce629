"""`python -m bench.creates_profile` runs end to end in a tiny mode and prints both tables. No timing is checked:
numbers belong to the benchmark's own report (bench/README.md), never to a test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_creates_profile_prints_the_commands_of_both_creates() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "bench.creates_profile", "--calls", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "CreatePayout:" in finished.stdout and "CreateInvoice:" in finished.stdout
    assert finished.stdout.count("commitTransaction/txj") >= 2

"""examples/avellaneda_stoikov_2008.py: its small mode runs, deterministically, and writes a PNG."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "avellaneda_stoikov_2008.py"


def run(out: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MMSIM_EXAMPLE_SMALL": "1"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_example_prints_the_table_and_writes_the_histograms(tmp_path):
    first = run(tmp_path / "a")
    rows = [
        line
        for line in first.splitlines()
        if line.startswith("| 0.1 ") or line.startswith("| 0.01 ") or line.startswith("| 1 ")
    ]
    assert [r.split("|")[2].strip() for r in rows] == ["inventory", "symmetric"] * 3
    assert "40 paths" in first and "(65.0)" in first  # the published figure beside ours
    assert "cells more than 3 combined SE from the published table:" in first
    png = (tmp_path / "a" / "profit_histograms.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    assert not list((tmp_path / "a").glob(".*tmp*"))  # no temporary file left behind
    assert run(tmp_path / "b") == first  # deterministic output
    assert (tmp_path / "b" / "profit_histograms.png").read_bytes() == png

"""Every benchmark script still runs (on tiny inputs): figures nobody can reproduce are no figures.

Only that they run and print; their timings are read by people, never asserted.
bench_engines.py is left out: it compiles the kernels into an empty cache on purpose (a minute).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

QUICK = {
    "bench_sweep.py batch": ["bench_sweep.py", "--mode", "batch", "--points", "4", "--check", "1",
                             "--days", "2"],
    "bench_sweep.py pool": ["bench_sweep.py", "--days", "0.5", "--side", "2"],
    "bench_summary.py": ["bench_summary.py", "--days", "2", "--repeat", "1"],
    "bench_fold.py": ["bench_fold.py", "--days", "0.5", "--repeat", "1"],
    "bench_fast_stages.py": ["bench_fast_stages.py", "--bars", "2000", "--repeat", "1"],
    "bench_testing.py": ["bench_testing.py", "--markets", "2", "--repeat", "1"],
    "paper_fast_path.py": ["paper_fast_path.py", "--engine-paths", "2", "--fast-paths", "10"],
    "compare_parallel.py": ["compare_parallel.py", "--days", "0.5", "--jobs", "2"],
    "bench_load.py": ["bench_load.py", "--small"],
    "bench_report.py": ["bench_report.py", "--days", "1"],
    "strategy_speed.py": ["strategy_speed.py", "--days", "0.2"],
    "real_quoting.py": ["real_quoting.py", "--days", "1"],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(QUICK))
def test_benchmark_runs_and_prints_its_figures(name, tmp_path):
    script, *args = QUICK[name]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stderr[-3000:]}"
    assert proc.stdout.strip(), f"{script} printed nothing"

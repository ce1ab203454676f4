"""`mmsim run` end to end in a subprocess, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import mmsim


def test_mmsim_run_prints_a_summary_and_writes_a_results_folder(tmp_path):
    out = tmp_path / "res"
    proc = subprocess.run(
        [sys.executable, "-m", "mmsim.cli", "run", "--days", "1", "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    # tables on stdout; status and timings on stderr
    assert "BTCUSDT" in proc.stdout and "TOTAL" in proc.stdout and "symbol-bars" in proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert [row["symbol"] for row in summary] == ["BTCUSDT", "ETHUSDT", "TOTAL"]
    back = mmsim.load_result(out)
    assert back.equity.height == 1440
    assert abs(back.final_equity - 100_000.0 - summary[-1]["pnl"]) < 1e-6


def test_mmsim_reports_bad_arguments_clearly(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "mmsim.cli", "run", "--days", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and "days must be a finite number > 0, got 0" in proc.stderr


def test_mmsim_run_says_which_engine_ran_and_takes_the_one_asked_for(tmp_path):
    def run(engine: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "mmsim.cli", "run", "--days", "0.2", "--engine", engine]
            + ["--out", str(tmp_path / engine), "--quiet", "--no-report"],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
        )

    reference, fast = run("reference"), run("fast")
    assert reference.returncode == 0 and fast.returncode == 0, reference.stderr + fast.stderr
    assert "engine: reference (asked for)" in reference.stderr
    assert "engine: fast (every stage has a kernel" in fast.stderr
    for engine in ("reference", "fast"):
        assert mmsim.load_result(tmp_path / engine).config["engine"]["name"] == engine
    # the same frames whichever engine ran
    assert reference.stdout == fast.stdout

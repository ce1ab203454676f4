"""The strategy-family examples run end to end in small mode and write the sets they promise."""

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import mmsim

ROOT = Path(__file__).resolve().parents[1]

EXPECTED_SETS = {
    "avellaneda_stoikov.py": ["finite", "finite_shaped", "infinite", "calibrated_kappa"],
    "glft.py": ["glft_fitted", "glft_rolling", "fixed_spread"],
    "mexico.py": [
        "neutral",
        "inventory_skew",
        "vol_momentum_spacing",
        "adaptive_impact",
        "everything",
    ],
    "cities.py": ["fixed_spread", "tokyo", "lisbon", "oslo", "nairobi", "lima"],
}


def test_every_strategy_family_has_an_example():
    names = {p.name for p in (ROOT / "examples").glob("*.py")}
    assert set(EXPECTED_SETS) <= names


def run_example(script: str, out: Path, cwd: Path) -> subprocess.CompletedProcess:
    # this checkout's mmsim, not another installed copy
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MMSIM_EXAMPLE_SMALL": "1"}
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), "--out", str(out)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("script", sorted(EXPECTED_SETS))
def test_example_runs_in_small_mode_and_writes_its_results(script, tmp_path):
    first = run_example(script, tmp_path / "a", tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"results in {tmp_path / 'a'}" in first.stdout
    table = pl.read_csv(tmp_path / "a" / "comparison.csv")
    assert table["set"].to_list() == EXPECTED_SETS[script]
    assert (table["fills"] > 0).all(), table
    assert table["pnl"].is_finite().all() and table["halted"].is_null().all()
    for name in EXPECTED_SETS[script]:
        result = mmsim.load_result(tmp_path / "a" / name)
        assert result.summary.filter(pl.col("symbol") == "TOTAL")["fills"][0] > 0
    if script == "glft.py":  # the in-sample fit it trades with
        fits = pl.read_csv(tmp_path / "a" / "calibration.csv")
        assert fits["symbol"].to_list() == ["BTCUSDT", "ETHUSDT"]
        assert (fits["A"] > 0).all() and (fits["kappa"] > 0).all()
    # deterministic: a second run writes the same table, byte for byte
    second = run_example(script, tmp_path / "b", tmp_path)
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "a" / "comparison.csv").read_bytes() == (
        tmp_path / "b" / "comparison.csv"
    ).read_bytes()

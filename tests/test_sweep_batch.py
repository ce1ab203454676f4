"""Batched sweeps on the compiled path: many grid points per prepared run, the reference's rows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import mmsim
from mmsim.core.orders import NO_QUOTES
from mmsim.core.risk import NO_RISK
from mmsim.fast.batch import BatchPoint, PointResult, run_points
from mmsim.research.executors import MAX_BATCH, batch_specs
from mmsim.research.spec import make_spec
from mmsim.strategies import stateless

AS_GRID = {
    "gamma": [0.0005, 0.005],
    "kappa": [0.25, 1.0],
    "vol_window": [30, 60],  # a feature parameter: two feature sets in one batch
    "risk.max_leverage": [0.5, 3.0],
    "venue.maker_fee": [-0.0001, 0.0002],  # two venues: two prepared runs
}
AS_SETUP = {
    "strategy": mmsim.avellaneda_stoikov,
    "params": {"order_value": 2_000.0, "max_inventory": 10},
    "risk": {"min_order_value": 10.0},
}


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    return mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=1, interval="1m", seed=3)


def same_rows(fast: pl.DataFrame, reference: pl.DataFrame) -> None:
    """Every column but the run time, floats to 1e-9 relative."""
    assert_frame_equal(fast.drop("elapsed_s"), reference.drop("elapsed_s"), rel_tol=1e-9)


def test_batched_fast_sweep_gives_the_reference_rows(bars):
    fast = mmsim.sweep(bars, grid=AS_GRID, executor="inprocess", engine="fast", **AS_SETUP)
    reference = mmsim.sweep(
        bars, grid=AS_GRID, executor="inprocess", engine="reference", **AS_SETUP
    )
    assert fast.height == 32 and (fast["status"] == "ok").all()
    assert fast.width > 100  # two symbols: TOTAL and each symbol's columns
    same_rows(fast, reference)


def test_run_points_returns_the_summary_of_each_backtest(bars):
    points = [
        BatchPoint(
            mmsim.avellaneda_stoikov(gamma=g, vol_window=w, order_value=2_000.0),
            mmsim.basic_risk(max_leverage=lev),
            mmsim.Venue(),
            50_000.0,
            keep_equity=True,
        )
        for g, w, lev in [(0.001, 30, 1.0), (0.01, 30, 3.0), (0.001, 90, 0.2)]
    ]
    results = run_points(bars, points, threads=2)
    assert all(isinstance(r, PointResult) for r in results)  # every point ran on the batch path
    for point, result in zip(points, results, strict=True):
        alone = mmsim.backtest(
            bars,
            point.strategies,
            risk=point.risk,
            venue=point.venue,
            initial_cash=point.initial_cash,
            engine="reference",
        )
        assert_frame_equal(result.summary, alone.summary, rel_tol=1e-9)
        assert result.halted == alone.halted
        assert_frame_equal(result.equity, alone.equity.select("ts", "equity"))


def test_points_without_a_kernel_are_handed_back(bars):
    mine = stateless("mine", lambda inputs: NO_QUOTES)  # a user's own: no kernel
    points = [
        BatchPoint(mine, NO_RISK, mmsim.Venue(), 1_000.0),
        BatchPoint(mmsim.fixed_spread(), NO_RISK, mmsim.Venue(), 1_000.0),
    ]
    results = run_points(bars, points)
    assert results[0] is None and isinstance(results[1], PointResult)
    assert run_points(bars, points, engine="reference") == [None, None]


def test_failed_points_give_the_reference_failure_rows(bars):
    grid = [{"gamma": 0.001}, {"gamma": -1.0}, {"kappa": 0.0}, {"gamma": 0.002}]
    fast = mmsim.sweep(bars, grid=grid, executor="inprocess", engine="fast", **AS_SETUP)
    reference = mmsim.sweep(bars, grid=grid, executor="inprocess", engine="reference", **AS_SETUP)
    assert fast["status"].to_list() == ["ok", "failed", "failed", "ok"]
    same_rows(fast, reference)


def test_the_process_pool_runs_batches_and_gives_the_same_rows(bars):
    grid = {"gamma": [0.0005, 0.002, 0.005], "kappa": [0.25, 1.0]}
    pooled = mmsim.sweep(bars, grid=grid, workers=2, engine="auto", **AS_SETUP)
    reference = mmsim.sweep(bars, grid=grid, executor="inprocess", engine="reference", **AS_SETUP)
    same_rows(pooled, reference)


def test_walk_forward_on_the_batched_path_matches_the_reference(bars):
    kwargs = {
        **AS_SETUP,
        "grid": {"gamma": [0.0005, 0.005], "kappa": [0.25, 1.0]},
        "train": "8h",
        "test": "4h",
        "executor": "inprocess",
    }
    fast = mmsim.walk_forward(bars, engine="fast", **kwargs)
    reference = mmsim.walk_forward(bars, engine="reference", **kwargs)
    assert_frame_equal(fast.windows, reference.windows, rel_tol=1e-9)
    assert_frame_equal(fast.equity, reference.equity, rel_tol=1e-9)
    same_rows(fast.train, reference.train)


def test_batches_are_consecutive_bounded_and_keep_reference_runs_alone():
    def spec(i: int, engine: str):
        return make_spec(
            {"half_spread_bps": float(i + 1)},
            strategy=mmsim.fixed_spread,
            symbols=("BTCUSDT",),
            fingerprint="f",
            engine=engine,
        )

    specs = [spec(i, "auto") for i in range(300)] + [spec(i, "reference") for i in range(3)]
    specs.insert(10, spec(500, "reference"))
    batches = batch_specs(specs, parallelism=2)
    assert [s for b in batches for s in b] == specs  # every spec once, in order
    assert max(map(len, batches)) == MAX_BATCH
    assert [len(b) for b in batches[-3:]] == [1, 1, 1]
    assert [len(b) for b in batches[:3]] == [10, 1, MAX_BATCH]
    assert max(map(len, batch_specs(specs, parallelism=2, max_runs=5))) == 5
    assert len(batch_specs(specs[:8], parallelism=2)) == 4  # two batches per worker


def test_without_numba_every_point_is_handed_back_to_the_reference(tmp_path):
    script = tmp_path / "no_numba.py"
    script.write_text(
        "import sys\n"
        "sys.modules['numba'] = None  # import numba now raises ImportError\n"
        "import mmsim\n"
        "from mmsim.fast.batch import BatchPoint, run_points\n"
        "from mmsim.core.risk import NO_RISK\n"
        "bars = mmsim.synthetic_bars(('BTCUSDT',), days=0.1, seed=1)\n"
        "point = BatchPoint(mmsim.fixed_spread(), NO_RISK, mmsim.Venue(), 1000.0)\n"
        "print(run_points(bars, [point]))\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(Path(mmsim.__file__).parents[1])},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[None]"

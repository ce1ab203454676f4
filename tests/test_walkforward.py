"""Walk-forward: windows, choice on train, honest test runs, stitched out-of-sample equity."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mmsim
from mmsim.research.sweep import best_run
from mmsim.research.walkforward import walk_forward, walk_windows

HOUR_US = 3_600 * 1_000_000
GRID = {"half_spread_bps": [3.0, 6.0, 12.0]}


@given(
    st.integers(0, 10**6),
    st.integers(1, 50),
    st.integers(1, 20),
    st.integers(1, 20),
    st.integers(0, 200),
    st.booleans(),
)
def test_windows_tile_the_history_train_then_test(start, train, test, step, extra, anchored):
    """Each test window follows its train window, they advance by `step`, all lie inside
    [start, end), and one more window would not fit."""
    end = start + extra
    windows = walk_windows(
        start, end, train_us=train, test_us=test, step_us=step, anchored=anchored
    )
    for k, (a, b, c) in enumerate(windows):
        assert b - (start + k * step) == train and c - b == test
        assert a == (start if anchored else start + k * step)
        assert start <= a < b < c <= end
    assert start + len(windows) * step + train + test > end


def test_window_lengths_must_be_positive():
    with pytest.raises(ValueError, match="test length must be positive"):
        walk_windows(0, 10, train_us=4, test_us=0, step_us=2)


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    return mmsim.synthetic_bars(("BTCUSDT",), days=1, seed=3)


@pytest.fixture(scope="module")
def wf(bars):
    return walk_forward(
        bars,
        strategy=mmsim.fixed_spread,
        grid=GRID,
        train="6h",
        test="3h",
        metric="pnl",
        executor="inprocess",
    )


def test_six_windows_fit_one_day_of_6h_train_and_3h_test(wf):
    assert wf.windows.height == 6
    assert wf.windows["status"].to_list() == ["ok"] * 6
    starts = wf.windows["test_start"].dt.epoch("us").to_list()
    assert [b - a for a, b in zip(starts, starts[1:], strict=False)] == [3 * HOUR_US] * 5


def test_each_window_uses_the_best_train_point_and_its_real_test_result(wf, bars):
    for w in wf.windows.iter_rows(named=True):
        best = best_run(wf.train.filter(pl.col("window") == w["window"]), "pnl")
        assert w["half_spread_bps"] == best["half_spread_bps"]
        assert w["is_pnl"] == best["pnl"] and w["train_run_id"] == best["run_id"]
        # the out-of-sample figure is a plain backtest of the chosen point on unseen bars
        test_bars = bars.filter(
            pl.col("ts").is_between(w["test_start"], w["test_end"], closed="left")
        )
        chosen = mmsim.fixed_spread(half_spread_bps=best["half_spread_bps"])
        direct = mmsim.backtest(test_bars, chosen)
        assert w["oos_pnl"] == pytest.approx(direct.summary["pnl"][-1], abs=1e-9)
        train_bars = wf.train.filter(pl.col("window") == w["window"])
        assert train_bars.height == len(GRID["half_spread_bps"])


def test_stitched_equity_compounds_the_test_windows(wf):
    eq = wf.equity
    assert eq["ts"].is_sorted() and eq["ts"].n_unique() == eq.height
    growth = math.prod(1 + p / 100_000.0 for p in wf.windows["oos_pnl"])
    assert eq["equity"][-1] == pytest.approx(100_000.0 * growth, rel=1e-12)
    oos = wf.summary.filter(pl.col("scope") == "out_of_sample").row(0, named=True)
    assert oos["stitched_return"] == pytest.approx(growth - 1, rel=1e-9)
    ins = wf.summary.filter(pl.col("scope") == "in_sample").row(0, named=True)
    assert ins["pnl_mean"] == pytest.approx(wf.windows["is_pnl"].mean())
    assert ins["pnl_per_day_mean"] == pytest.approx(wf.windows["is_pnl"].mean() * 4)


def test_drawdown_metrics_are_minimised_by_default(bars):
    wf = walk_forward(
        bars,
        strategy=mmsim.fixed_spread,
        grid=GRID,
        train="12h",
        test="12h",
        metric="max_drawdown",
        executor="inprocess",
    )
    train = wf.train.filter(pl.col("status") == "ok")
    assert wf.windows["is_max_drawdown"][0] == train["max_drawdown"].min()


def test_too_little_history_is_a_clear_error(bars):
    with pytest.raises(ValueError, match="at least train \\+ test = 1.5 days.*span 1 days"):
        walk_forward(
            bars,
            strategy=mmsim.fixed_spread,
            grid=GRID,
            train="1d",
            test="12h",
            executor="inprocess",
        )


def test_train_sweeps_resume_and_results_save(bars, tmp_path):
    common = {
        "strategy": mmsim.fixed_spread,
        "grid": GRID,
        "train": "12h",
        "test": "6h",
        "metric": "pnl",
        "executor": "inprocess",
        "out": tmp_path,
    }
    first: list[str] = []
    a = walk_forward(bars, **common, on_result=lambda row: first.append(row["run_id"][0]))
    again: list[str] = []
    b = walk_forward(bars, **common, on_result=lambda row: again.append(row["run_id"][0]))
    assert len(first) == 2 * 3 and again == []
    assert a.windows.equals(b.windows) and a.equity.equals(b.equity)
    saved = b.save(tmp_path / "result")
    assert pl.read_parquet(saved / "windows.parquet").equals(b.windows)
    assert (saved / "config.json").is_file()


def test_out_of_sample_equity_chart_is_drawn(wf, tmp_path):
    from mmsim.research.sweep_charts import save_chart, walk_forward_chart

    chart = walk_forward_chart(wf)
    assert chart.to_dict()["encoding"]["color"]["field"] == "window"
    assert save_chart(chart, tmp_path / "wf.png").read_bytes()[:4] == b"\x89PNG"


def test_windows_without_a_successful_train_run_are_reported_not_hidden(bars):
    from sweep_helpers import broken

    wf = walk_forward(
        bars,
        strategy=broken,
        grid={"half_spread_bps": [500.0]},
        train="12h",
        test="6h",
        metric="pnl",
        executor="inprocess",
    )
    assert wf.windows["status"].to_list() == ["no successful train run"] * 2
    assert wf.equity.height == 0
    assert wf.summary["windows"].to_list() == [0, 0]

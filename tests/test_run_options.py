"""RunOptions: one validated value for how sweeps, walk-forwards and comparisons execute."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import mmsim
from mmsim.research.options import RunOptions


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    return mmsim.synthetic_bars(("BTCUSDT",), days=0.25, seed=5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"executor": "threads"}, "executor must be one of"),
        ({"workers": 0}, "workers must be an integer >= 1"),
        ({"workers": 1.5}, "workers must be an integer >= 1"),
        ({"engine": "turbo"}, "engine must be one of"),
        ({"executor": "dask"}, "executor 'dask' needs scheduler"),
        ({"scheduler": 8786}, "scheduler must be 'tcp://host:port'"),
        ({"out": 3}, "out must be a folder path"),
        ({"progress": "yes"}, "progress"),
    ],
)
def test_invalid_options_cannot_be_built(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        RunOptions(**kwargs)


def test_options_are_frozen_and_a_scheduler_selects_dask(tmp_path):
    opts = RunOptions(out=str(tmp_path), scheduler="tcp://127.0.0.1:1")
    assert opts.out == tmp_path and opts.kind == "dask"
    assert RunOptions(executor=ThreadPoolExecutor(1)).kind == "foreign"
    with pytest.raises(AttributeError):
        opts.workers = 2  # type: ignore[misc]


def test_sweep_with_options_gives_the_keyword_rows(bars, tmp_path):
    grid = {"half_spread_bps": [4.0, 8.0]}
    by_keywords = mmsim.sweep(
        bars, strategy=mmsim.fixed_spread, grid=grid, executor="inprocess", engine="reference"
    )
    opts = RunOptions(executor="inprocess", engine="reference", out=tmp_path / "sw")
    by_options = mmsim.sweep(bars, strategy=mmsim.fixed_spread, grid=grid, options=opts)
    assert_frame_equal(by_keywords.drop("elapsed_s"), by_options.drop("elapsed_s"))
    assert len(list((tmp_path / "sw").glob("run-*.parquet"))) == 2  # options.out was used


def test_options_and_a_differing_keyword_together_are_refused(bars):
    with pytest.raises(ValueError, match=r"either options=RunOptions.*\['workers'\]"):
        mmsim.sweep(
            bars,
            strategy=mmsim.fixed_spread,
            grid={"half_spread_bps": [4.0]},
            workers=2,
            options=RunOptions(executor="inprocess"),
        )
    with pytest.raises(ValueError, match="either options=RunOptions"):
        mmsim.compare(bars, {"a": mmsim.tokyo()}, jobs=2, options=RunOptions())


def test_walk_forward_takes_options(bars):
    kwargs = {
        "strategy": mmsim.fixed_spread,
        "grid": {"half_spread_bps": [4.0, 8.0]},
        "train": "2h",
        "test": "1h",
    }
    a = mmsim.walk_forward(bars, executor="inprocess", **kwargs)
    b = mmsim.walk_forward(bars, options=RunOptions(executor="inprocess"), **kwargs)
    assert_frame_equal(a.windows, b.windows)
    assert_frame_equal(a.equity, b.equity)


def test_compare_runs_on_the_executor_options_name_and_saves_to_out(bars, tmp_path):
    sets = {"tokyo": mmsim.tokyo(), "lisbon": mmsim.lisbon()}
    serial = mmsim.compare(bars, sets)
    with ThreadPoolExecutor(2) as pool:
        opts = RunOptions(executor=pool, engine="reference", out=tmp_path / "cmp")
        threaded = mmsim.compare(bars, sets, options=opts)
    assert_frame_equal(serial.table, threaded.table)
    assert threaded.results["tokyo"].config["engine"]["name"] == "reference"
    assert (tmp_path / "cmp" / "comparison.parquet").is_file()

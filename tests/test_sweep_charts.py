"""Sweep charts: heatmap cells, the PNG written, the top-N table."""

from __future__ import annotations

import struct

import polars as pl
import pytest

import mmsim
from mmsim.research.sweep_charts import heatmap_frame, save_chart, sweep_heatmap, top_runs


@pytest.fixture(scope="module")
def rows() -> pl.DataFrame:
    bars = mmsim.synthetic_bars(("BTCUSDT",), days=0.5, seed=4)
    grid = {
        "half_spread_bps": [2.0, 5.0, 9.0],
        "order_value": [500.0, 1500.0],
        "risk.max_leverage": [0.5, 3.0],
    }
    return mmsim.sweep(bars, strategy=mmsim.fixed_spread, grid=grid, executor="inprocess")


def test_heatmap_cells_fold_the_other_parameters(rows):
    cells = heatmap_frame(rows, x="half_spread_bps", y="order_value", metric="pnl", aggregate="max")
    assert cells.height == 6 and cells["runs"].to_list() == [2] * 6
    for cell in cells.iter_rows(named=True):
        both = rows.filter(
            (pl.col("half_spread_bps") == cell["half_spread_bps"])
            & (pl.col("order_value") == cell["order_value"])
        )
        assert cell["pnl"] == both["pnl"].max()
    mean = heatmap_frame(
        rows, x="half_spread_bps", y="risk.max_leverage", metric="pnl", aggregate="mean"
    )
    assert mean["pnl"].sum() == pytest.approx(rows["pnl"].sum() / 2)  # 2 runs a cell


def test_heatmap_png_is_written_with_dotted_parameter_names(rows, tmp_path):
    chart = sweep_heatmap(rows, x="half_spread_bps", y="risk.max_leverage", metric="sharpe")
    spec = chart.to_dict()
    encoding = spec["layer"][0]["encoding"]
    assert encoding["y"]["field"] == "risk_max_leverage"
    assert encoding["y"]["title"] == "risk.max_leverage"
    path = save_chart(chart, tmp_path / "heat.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 300 and height > 200
    assert [p.name for p in tmp_path.iterdir()] == ["heat.png"]


def test_bad_chart_requests_name_the_problem(rows, tmp_path):
    with pytest.raises(ValueError, match="'gamma' is not a sweep column"):
        heatmap_frame(rows, x="gamma", y="order_value")
    with pytest.raises(ValueError, match="aggregate must be one of"):
        heatmap_frame(rows, x="half_spread_bps", y="order_value", aggregate="sum")
    with pytest.raises(ValueError, match="must be .png, .svg or .html"):
        save_chart(sweep_heatmap(rows, x="half_spread_bps", y="order_value"), tmp_path / "x.jpg")


def test_top_runs_are_the_best_first(rows):
    top = top_runs(rows, metric="pnl", n=4)
    assert top.height == 4 and top["pnl"].to_list() == sorted(rows["pnl"], reverse=True)[:4]
    assert top.columns[:4] == ["run_id", "half_spread_bps", "order_value", "risk.max_leverage"]
    low = top_runs(rows, metric="max_drawdown", n=3)
    assert low["max_drawdown"].to_list() == sorted(rows["max_drawdown"])[:3]


def test_cells_whose_runs_all_failed_are_drawn_grey_and_named():
    from sweep_helpers import broken

    bars = mmsim.synthetic_bars(("BTCUSDT",), days=0.25, seed=4)
    rows = mmsim.sweep(
        bars,
        strategy=broken,
        executor="inprocess",
        grid={"half_spread_bps": [5.0, 500.0], "fail_above": [100.0, 1000.0]},
    )
    spec = sweep_heatmap(rows, x="half_spread_bps", y="fail_above", metric="pnl").to_dict()
    assert spec["title"]["subtitle"] == ["grey: every run of the cell failed (1 cells)"]
    grey_rect = {"type": "rect", "color": "#d9d9d9"}
    grey = [layer for layer in spec["layer"] if layer["mark"] == grey_rect]
    assert len(grey) == 1
    failed = spec["datasets"][grey[0]["data"]["name"]]
    assert failed == [{"half_spread_bps": 500.0, "fail_above": 100.0}]


def test_chart_helpers_are_public_but_altair_loads_only_on_use():
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, mmsim; assert 'altair' not in sys.modules; "
        "f = mmsim.sweep_heatmap; assert 'altair' in sys.modules; print(f.__module__)"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "mmsim.research.sweep_charts"


@pytest.mark.parametrize("suffix, start", [(".svg", "<svg"), (".html", "<!DOCTYPE html>")])
def test_charts_save_as_svg_and_html(rows, tmp_path, suffix, start):
    chart = sweep_heatmap(rows, x="half_spread_bps", y="order_value", metric="pnl")
    path = save_chart(chart, tmp_path / f"heat{suffix}")
    assert path.read_text().lstrip().startswith(start)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]

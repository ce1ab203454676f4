"""mmsim.rerun: the full Result of one sweep run, rebuilt from its row alone."""

from __future__ import annotations

import json
import math

import polars as pl
import pytest

import mmsim
from mmsim.research.sweep import load_sweep, rerun, sweep


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    return mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=0.5, seed=21)


@pytest.fixture(scope="module")
def rows(bars, tmp_path_factory) -> pl.DataFrame:
    """A/S with an int parameter, risk and venue on the grid, stored in a folder and read back."""
    out = tmp_path_factory.mktemp("sweep") / "as"
    sweep(
        bars,
        strategy=mmsim.avellaneda_stoikov,
        grid={"gamma": [0.0005, 0.005], "risk.max_leverage": [1.0, 3.0], "venue.maker_fee": [0.0]},
        params={"order_value": 2_000.0, "max_inventory": 10},
        executor="inprocess",
        out=out,
    )
    return load_sweep(out)


def assert_row_is_summary(row: dict, result: mmsim.Result) -> None:
    """Every summary figure in the row (TOTAL bare, each symbol as SYMBOL.metric) is the
    rebuilt run's."""
    summary = result.summary
    checked = 0
    for line in summary.iter_rows(named=True):
        prefix = "" if line["symbol"] == "TOTAL" else f"{line['symbol']}."
        for column, value in line.items():
            if column == "symbol" or prefix + column not in row:
                continue
            stored = row[prefix + column]
            if value is None or stored is None:
                assert value is None and stored is None, prefix + column
            elif isinstance(value, float):
                assert math.isclose(value, stored, rel_tol=1e-9, abs_tol=1e-12), prefix + column
            else:
                assert value == stored, prefix + column
            checked += 1
    assert checked > 2 * len(summary.columns)  # TOTAL and both symbols were compared


def test_the_best_run_rebuilt_has_the_row_figures(bars, rows):
    best = mmsim.best_run(rows, "sharpe")
    result = rerun(bars, best)
    assert result.fills.height > 0
    assert result.config["initial_cash"] == best_config(best)["initial_cash"]
    assert_row_is_summary(best, result)


def best_config(row: dict) -> dict:
    return json.loads(row["config"])


def test_every_row_rebuilt_by_run_id_and_on_the_reference_engine(bars, rows):
    for run_id in rows["run_id"].to_list():
        row = rows.filter(pl.col("run_id") == run_id).row(0, named=True)
        assert_row_is_summary(row, rerun(bars, run_id, rows, engine="reference"))


def test_a_per_symbol_sweep_row_rebuilds_that_symbol_alone(bars):
    rows = sweep(
        bars,
        strategy="fixed_spread",
        grid={"half_spread_bps": [3, 9]},
        per_symbol=True,
        executor="inprocess",
    )
    row = rows.filter(pl.col("symbol") == "ETHUSDT").row(1, named=True)
    result = rerun(bars, rows.filter(pl.col("run_id") == row["run_id"]))
    assert result.symbols["symbol"].unique().to_list() == ["ETHUSDT"]
    total = result.summary.filter(pl.col("symbol") == "TOTAL").row(0, named=True)
    assert total["fills"] > 0
    assert total["fills"] == row["fills"]
    assert math.isclose(total["pnl"], row["pnl"], rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(total["sharpe"], row["sharpe"], rel_tol=1e-9)


def test_a_factory_defined_in_a_function_is_given_back(bars):
    def make(half_spread_bps: float) -> mmsim.Strategy:
        return mmsim.fixed_spread(half_spread_bps=half_spread_bps, order_value=500.0)

    rows = sweep(bars, strategy=make, grid={"half_spread_bps": [4.0]}, executor="inprocess")
    row = rows.row(0, named=True)
    with pytest.raises(ValueError, match="cannot import"):
        rerun(bars, row)
    assert_row_is_summary(row, rerun(bars, row, strategy=make))


def test_other_bars_are_refused(bars, rows):
    other = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=0.5, seed=22)
    with pytest.raises(ValueError, match="not computed on these bars"):
        rerun(other, rows.row(0, named=True))


def test_a_row_without_its_build_keywords_is_refused(bars, rows):
    row = rows.row(0, named=True)
    config = json.loads(row["config"])
    del config["build"]
    with pytest.raises(ValueError, match="without the exact keywords"):
        rerun(bars, {**row, "config": json.dumps(config)})


def test_an_unknown_run_id_or_several_rows_are_refused(bars, rows):
    with pytest.raises(ValueError, match="is not among the 4 rows"):
        rerun(bars, "0123456789abcdef", rows)
    with pytest.raises(ValueError, match="without the sweep's rows"):
        rerun(bars, "0123456789abcdef")
    with pytest.raises(ValueError, match="one sweep row, got a frame of 4 rows"):
        rerun(bars, rows)

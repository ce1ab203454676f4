"""One number format per kind: every figure of every table has a kind by its column's name."""

from __future__ import annotations

import attrs
import polars as pl
import pytest

import mmsim
from mmsim.results.formats import format_value, kind_of
from mmsim.results.metrics import compare

# figures in base units (positions and quantities) are the only floats without a money,
# percent, bps or ratio kind: they keep 6 significant digits
BASE_UNITS = {"final_position", "mean_abs_position", "max_abs_position", "posted_qty", "filled_qty"}


@pytest.fixture(scope="module")
def result():
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=0.5, interval="1m", seed=3)
    return mmsim.backtest(
        bars,
        mmsim.fixed_spread(half_spread_bps=5),
        risk=mmsim.basic_risk(max_leverage=2.0),
        venue=mmsim.Venue(maker_fee=0.0002, taker_fee=0.0005),
    )


def _tables(result) -> dict[str, pl.DataFrame]:
    metrics = result.metrics()
    tables = {
        f.name: getattr(metrics, f.name)
        for f in attrs.fields(type(metrics))
        if isinstance(getattr(metrics, f.name), pl.DataFrame)
    }
    return {**tables, "summary": result.summary, "compare": compare({"a": result})}


def test_every_float_column_has_a_kind(result):
    for name, table in _tables(result).items():
        for column, dtype in table.schema.items():
            if dtype.is_float() and column not in BASE_UNITS:
                assert kind_of(column) != "number", f"{name}.{column}"


def test_a_column_is_never_repeated_under_a_joined_name(result):
    for name, table in _tables(result).items():
        assert not [c for c in table.columns if c.endswith("_right")], name


def test_money_in_the_attribution_reads_as_money(result):
    inventory = result.metrics().attribution["inventory"][-1]
    assert format_value("inventory", inventory) == f"{inventory:,.2f}"
    assert format_value("markout_usdt", -1234.5678) == "-1,234.57"


def test_a_statistic_of_a_figure_has_the_figure_s_kind():
    for column in ("pnl", "pnl_per_day", "return", "sharpe", "max_drawdown", "markout_1_bps"):
        for statistic in ("_mean", "_median", "_max"):
            assert kind_of(column + statistic) == kind_of(column), column + statistic
    assert format_value("pnl_mean", -1328.6951) == "-1,328.70"

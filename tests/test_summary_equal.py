"""The run summary equals, column by column, the straightforward computation it replaced
(tests/summary_oracle.py): same columns, dtypes, nulls, and values to 1e-9 relative."""

from __future__ import annotations

import math

import polars as pl
import pytest
import summary_oracle
from conftest import scaled
from hypothesis import given, settings

import mmsim
import mmsim.testing
from mmsim.results.metrics import summarize
from mmsim.testing.markets import runs


def _old(result, horizons=summary_oracle.HORIZONS) -> pl.DataFrame:
    return summary_oracle.summarize(
        result.equity,
        result.symbols,
        result.fills,
        float(result.config["initial_cash"]),
        int(result.config["interval_us"]),
        rejections=result.rejections,
        events=result.events,
        posted=result.posted,
        horizons=horizons,
    )


def frames_summary(result, horizons=summary_oracle.HORIZONS) -> pl.DataFrame:
    return summarize(
        result.equity,
        result.symbols,
        result.fills,
        float(result.config["initial_cash"]),
        int(result.config["interval_us"]),
        rejections=result.rejections,
        events=result.events,
        posted=result.posted,
        horizons=horizons,
    )


def assert_same_summary(new: pl.DataFrame, old: pl.DataFrame) -> None:
    assert new.columns == old.columns
    assert new.schema == old.schema
    assert new["symbol"].to_list() == old["symbol"].to_list()
    for column in old.columns:
        for row, (a, b) in enumerate(zip(new[column].to_list(), old[column].to_list())):
            where = f"{column} of {old['symbol'][row]}: {a!r} != {b!r}"
            if b is None or a is None:
                assert a is None and b is None, where
            elif isinstance(b, float) and math.isnan(b):
                assert math.isnan(a), where
            elif isinstance(b, float):
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), where
            else:
                assert a == b, where


@settings(max_examples=scaled(120))
@given(runs())
def test_summary_equals_the_plain_computation_on_generated_runs(result):
    """Any market (several symbols, gaps), strategy, venue and risk set (halts, exits,
    liquidations, runs without fills)."""
    assert_same_summary(frames_summary(result), _old(result))


@pytest.mark.parametrize("horizons", [(), (0,), (3, 1)])
def test_summary_equals_the_plain_computation_for_other_horizons(horizons):
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=1, interval="1m", seed=3)
    result = mmsim.backtest(bars, mmsim.avellaneda_stoikov(order_value=2000.0, max_inventory=10))
    assert result.fills.height > 0
    assert_same_summary(frames_summary(result, horizons), _old(result, horizons))


@pytest.mark.parametrize(
    ("symbols", "risk"),
    [
        (("BTCUSDT",), None),
        (("BTCUSDT", "ETHUSDT", "SOLUSDT"), None),
        (("BTCUSDT", "ETHUSDT"), "halt"),
    ],
)
def test_summary_equals_the_plain_computation_on_synthetic_days(symbols, risk):
    bars = mmsim.synthetic_bars(symbols, days=3, interval="1m", seed=5)
    rule = (
        mmsim.testing.then_halt(mmsim.basic_risk(max_leverage=3.0), 2000)
        if risk == "halt"
        else mmsim.basic_risk(max_leverage=3.0)
    )
    result = mmsim.backtest(
        bars, mmsim.avellaneda_stoikov(order_value=2000.0, max_inventory=10), risk=rule
    )
    assert_same_summary(frames_summary(result), _old(result))


def test_summary_equals_the_plain_computation_without_fills():
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=1, interval="1h", seed=5)
    result = mmsim.backtest(bars, mmsim.testing.ladder(levels=1, spacing_bps=1900.0))
    assert result.fills.height == 0
    assert_same_summary(frames_summary(result), _old(result))


def test_summary_equals_the_plain_computation_on_frames_out_of_order():
    """Frames in another row order (ts-major by symbol name, fills shuffled) summarize the same."""
    bars = mmsim.synthetic_bars(("ETHUSDT", "BTCUSDT"), days=1, interval="5m", seed=9)
    result = mmsim.backtest(bars, mmsim.avellaneda_stoikov(order_value=2000.0, max_inventory=10))
    symbols = result.symbols.sort("symbol", "ts")
    fills = result.fills.sample(fraction=1.0, shuffle=True, seed=1).sort("ts", maintain_order=True)
    args = (result.equity, symbols, fills, 10_000.0, int(result.config["interval_us"]))
    kw = dict(rejections=result.rejections, events=result.events, posted=result.posted)
    assert_same_summary(summarize(*args, **kw), summary_oracle.summarize(*args, **kw))


def test_summary_equals_the_plain_computation_on_frames_saved_before_clamping():
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=1, interval="5m", seed=4)
    result = mmsim.backtest(bars, mmsim.avellaneda_stoikov(order_value=2000.0, max_inventory=10))
    symbols = result.symbols.drop("clamped")
    args = (result.equity, symbols, result.fills, 10_000.0, int(result.config["interval_us"]))
    kw = dict(rejections=result.rejections, events=result.events, posted=result.posted)
    assert_same_summary(summarize(*args, **kw), summary_oracle.summarize(*args, **kw))


def test_a_symbol_twice_at_one_bar_is_named():
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=1, interval="1h", seed=4)
    result = mmsim.backtest(bars, mmsim.avellaneda_stoikov(order_value=2000.0, max_inventory=10))
    twice = pl.concat([result.symbols, result.symbols.slice(7, 1)])
    at = result.symbols["ts"][7]
    name = result.symbols["symbol"][7]
    with pytest.raises(ValueError, match=f"two rows for {name} at {at}"):
        summarize(result.equity, twice, result.fills, 10_000.0, int(result.config["interval_us"]))

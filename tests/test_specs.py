"""Tick and lot sizes read from the bars: the finest decimal grid of the prices (volumes), the
rule of thumb only when the data shows no grid, the venue's sizes over both."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from data_support import real
from hypothesis import given, settings
from hypothesis import strategies as st

import mmsim
from mmsim.core.bars import validate_bars
from mmsim.core.orders import Quotes
from mmsim.core.specs import (
    MAX_DECIMALS,
    MIN_DISTINCT,
    decimal_grids,
    on_decimal_grid,
    symbol_specs,
)
from mmsim.core.venue import infer_lot_size, infer_tick_size

MIN = 60_000_000


def _bars(prices, volumes, symbol="X"):
    n = len(prices)
    return pl.DataFrame(
        {
            "ts": [k * MIN for k in range(n)],
            "symbol": [symbol] * n,
            "open": prices,
            "high": prices,
            "low": prices,
            "close": prices,
            "volume": volumes,
        }
    ).with_columns(pl.col("ts").cast(pl.Datetime("us")))


def _on(values, step):
    x = np.asarray(values) / step
    return bool(np.all(np.abs(x - np.round(x)) < 1e-6))


@pytest.mark.parametrize("folder", ["2025", "Q4_2024"])
def test_binance_spot_ticks_are_read_from_the_prices(folder):
    path = real("benicio1007_bot_trading__binance_spot_1m", folder)
    bars = mmsim.load_bars(path)
    specs = symbol_specs(validate_bars(bars), mmsim.Venue())
    # Binance spot's tick for BTC, ETH and SOL against USDT is 0.01 (the rule of thumb says 0.1
    # for BTC at 90,000 and 0.001 for SOL at 190)
    for symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT"):
        spec = specs[symbol]
        assert (spec.tick_size, spec.tick_source) == (0.01, "prices"), symbol
        assert spec.lot_source == "volumes"
        volumes = bars.filter(pl.col("symbol") == symbol)["volume"].to_numpy()
        # the finest grid: every volume on it, not every volume on the grid ten times coarser
        assert _on(volumes, spec.lot_size) and not _on(volumes, spec.lot_size * 10)
    assert infer_tick_size(95_000) == 0.1 and infer_tick_size(190) == 0.001


def test_the_grid_survives_float_noise():
    prices = [round(100 + 0.37 * k, 2) for k in range(40)]
    noisy = [p + p * 1e-15 for p in prices]  # a sum of floats, e.g. 0.1 + 0.2
    volumes = [0.1 * k + 0.2 for k in range(40)]
    grids = decimal_grids(_bars(noisy, volumes), ("open", "close"))
    assert grids == {"X": 0.01}
    assert decimal_grids(_bars(noisy, volumes), ("volume",)) == {"X": 0.1}


def test_float_noisy_data_falls_back_to_the_rule_of_thumb():
    rng = np.random.default_rng(1)
    prices = (100 * np.exp(np.cumsum(rng.normal(0, 1e-3, 60)))).tolist()
    volumes = rng.uniform(1, 2, 60).tolist()
    (spec,) = symbol_specs(_bars(prices, volumes), mmsim.Venue()).values()
    assert (spec.tick_size, spec.tick_source) == (infer_tick_size(prices[0]), "rule")
    assert (spec.lot_size, spec.lot_source) == (infer_lot_size(prices[0]), "rule")


def test_a_handful_of_round_prices_is_no_evidence_of_a_grid():
    few = [100.0, 101.0, 99.0] * 10  # 3 distinct prices, all whole numbers
    (spec,) = symbol_specs(_bars(few, [5.0] * 30), mmsim.Venue()).values()
    assert (spec.tick_source, spec.lot_source) == ("rule", "rule")
    many = [100.0 + k for k in range(MIN_DISTINCT)]
    (spec,) = symbol_specs(
        _bars(many, [1.5 + k for k in range(MIN_DISTINCT)]), mmsim.Venue()
    ).values()
    assert (spec.tick_size, spec.tick_source) == (1.0, "prices")
    assert (spec.lot_size, spec.lot_source) == (0.1, "volumes")


def test_the_venues_sizes_win_and_every_source_is_in_the_result_config():
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=0.05, interval="1m", seed=2)
    venue = mmsim.Venue(tick_sizes={"BTCUSDT": 0.5}, lot_sizes={"ETHUSDT": 0.01})
    result = mmsim.backtest(bars, mmsim.fixed_spread(half_spread_bps=5.0), venue=venue)
    specs = result.config["specs"]
    assert (specs["BTCUSDT"]["tick_size"], specs["BTCUSDT"]["tick_source"]) == (0.5, "venue")
    assert (specs["ETHUSDT"]["lot_size"], specs["ETHUSDT"]["lot_source"]) == (0.01, "venue")
    assert specs["ETHUSDT"]["tick_source"] == "prices"  # the synthetic bars sit on a grid
    assert specs["BTCUSDT"]["lot_source"] == "volumes"


def test_strategies_see_their_symbols_tick_and_lot():
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=0.02, interval="1m", seed=4)
    seen = []

    def quote(inputs):
        seen.append((inputs.bar.symbol, inputs.tick_size, inputs.lot_size))
        return Quotes()

    venue = mmsim.Venue(tick_sizes={"BTCUSDT": 0.5}, lot_sizes={"BTCUSDT": 0.002})
    result = mmsim.backtest(bars, mmsim.stateless("spy", quote), venue=venue)
    specs = result.config["specs"]
    assert set(seen) == {
        (s, specs[s]["tick_size"], specs[s]["lot_size"]) for s in ("BTCUSDT", "ETHUSDT")
    }
    assert ("BTCUSDT", 0.5, 0.002) in set(seen)


def _grids_by_definition(frame: pl.DataFrame, columns) -> dict:
    """The module doc's rule written as one Polars query over each symbol's distinct values."""
    values = frame.select("symbol", *columns).unpivot(index="symbol", value_name="x").unique()
    fits = [on_decimal_grid(pl.col("x"), d).all().alias(f"d{d}") for d in range(MAX_DECIMALS + 1)]
    table = values.group_by("symbol", maintain_order=True).agg(
        *fits, pl.col("x").filter(pl.col("x") != 0).n_unique().alias("distinct")
    )
    out = {}
    for row in table.iter_rows(named=True):
        fit = next((10.0**-d for d in range(MAX_DECIMALS + 1) if row[f"d{d}"]), None)
        out[row["symbol"]] = fit if row["distinct"] >= MIN_DISTINCT else None
    return out


@given(
    data=st.data(),
    decimals=st.lists(st.integers(0, 10), min_size=1, max_size=3),
    n=st.integers(1, 3000),
)
@settings(deadline=None)
def test_decimal_grids_follow_the_definition(data, decimals, n):
    """Each symbol's grid equals the rule applied to its distinct values, whatever the grid,
    the float noise (within and beyond the tolerance), the count of distinct values (around
    MIN_DISTINCT) and the row at which a value leaves the grid (before or after the first
    thousand)."""
    frames = []
    for i, d in enumerate(decimals):
        distinct = data.draw(st.integers(1, 40))
        units = data.draw(st.lists(st.integers(0, 10**6), min_size=distinct, max_size=distinct))
        picks = np.array(units)[np.arange(n) % distinct] * 10.0**-d
        noise = data.draw(st.sampled_from([0.0, 1e-9, 1e-5]))
        at = data.draw(st.integers(0, n - 1))
        picks[at] += noise * 10.0**-d
        frames.append(_bars(picks.tolist(), (picks * 3).tolist(), symbol=f"S{i}"))
    frame = pl.concat(frames)
    for columns in (("open", "close"), ("volume",)):
        assert decimal_grids(frame, columns) == _grids_by_definition(frame, columns)


_LONG = 3 * (1 << 14) + 5  # over three of the chunks the grid test reads at a time


@pytest.mark.parametrize("decimals", [0, 2, MAX_DECIMALS])
@pytest.mark.parametrize("bad", [None, 0, (1 << 14) - 1, 1 << 14, 2 * (1 << 14) + 7, _LONG - 1])
def test_a_long_column_fits_a_grid_exactly_when_every_value_does(decimals, bad):
    """The grid test reads a long column a chunk at a time: one value off the grid anywhere
    (the last chunk's last value included) keeps the grid out, as `on_decimal_grid` says."""
    from mmsim.core.specs import _fits

    x = np.round(np.linspace(1.0, 100.0, _LONG), decimals)
    if bad is not None:
        x[bad] += 0.37 * 10.0**-decimals
    expected = bool(pl.select(on_decimal_grid(pl.lit(pl.Series(x)), decimals).all()).item())
    assert _fits(x, decimals) == expected == (bad is None)

"""Hypothesis strategies that generate whole backtest runs: markets, strategies, venues, risk.

Small on purpose (a few symbols, tens of bars) so a property can run hundreds of backtests; wide
on purpose (rebates, taker exits, early stops, liquidations, gaps, several quote levels) so the
identities tested on them meet every kind of fill.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from hypothesis import strategies as st

import mmsim
from mmsim.orders import Quotes

_START_US = 1_704_067_200_000_000  # 2024-01-01 00:00 UTC
_NAMES = ("AAAUSDT", "BBBUSDT", "CCCUSDT")


@st.composite
def markets(draw, *, max_bars: int = 40, max_symbols: int = 3) -> tuple[pl.DataFrame, bool]:
    """A long bars frame (hourly bars, funding on some) and whether it has gaps (allow_gaps)."""
    n_symbols = draw(st.integers(1, max_symbols))
    n = draw(st.integers(2, max_bars))
    gaps = draw(st.booleans()) if n_symbols > 1 else False
    rows = []
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))  # the details; moves shrink
    for s in _NAMES[:n_symbols]:
        price = draw(st.sampled_from([0.5, 3.0, 150.0, 3_000.0, 60_000.0]))
        moves = draw(st.lists(st.floats(-0.06, 0.06), min_size=n, max_size=n))
        wicks = rng.uniform(0.0, 0.03, n).tolist()
        funding = rng.choice([0.0, 0.0, 0.0, 0.0001, -0.0003, 0.001], n).tolist()
        volume = rng.uniform(0.0, 1e4, n).tolist()
        for k, move in enumerate(moves):
            open_ = price
            close = price * math.exp(move)
            high = max(open_, close) * (1 + wicks[k])
            low = min(open_, close) * (1 - wicks[k])
            rows.append(
                (_START_US + k * 3_600_000_000, s, open_, high, low, close, volume[k], funding[k])
            )
            price = close
    frame = pl.DataFrame(
        rows,
        schema=["ts", "symbol", "open", "high", "low", "close", "volume", "funding_rate"],
        orient="row",
    ).with_columns(pl.col("ts").cast(pl.Datetime("us")))
    if gaps:
        drop = rng.random(frame.height) < 0.2
        keep = frame.filter(~pl.Series(drop))
        # every symbol keeps at least one bar
        if keep["symbol"].n_unique() == n_symbols:
            frame = keep
    return frame, gaps


def ladder(offsets_bps: tuple[float, ...], order_value: float) -> mmsim.Strategy:
    """Several levels per side at fixed distances (bps of the close), innermost first."""

    def quote(inputs):
        close = inputs.bar.close
        qty = order_value / close
        return Quotes(
            bids=tuple((close * (1 - o / 1e4), qty) for o in offsets_bps),
            asks=tuple((close * (1 + o / 1e4), qty) for o in offsets_bps),
            reservation_price=close,
        )

    return mmsim.stateless("ladder", quote)


@st.composite
def quoting(draw) -> mmsim.Strategy:
    """One of the built-in strategies or a ladder, with parameters from small to reckless."""
    kind = draw(st.sampled_from(["fixed", "as", "ladder"]))
    value = draw(st.sampled_from([50.0, 1_000.0, 20_000.0, 200_000.0]))
    if kind == "fixed":
        cap = draw(st.sampled_from([None, 2_000.0, 50_000.0]))
        return mmsim.fixed_spread(
            half_spread_bps=draw(st.floats(0.5, 300.0)), order_value=value, max_position_value=cap
        )
    if kind == "as":
        # a small gamma and an inventory cap keep its skewed quotes positive on these wild
        # hourly bars (with gamma 0.01 and no cap its ask can fall below zero: a strategy error)
        return mmsim.avellaneda_stoikov(
            gamma=0.0001,
            kappa=draw(st.sampled_from([0.1, 0.5, 2.0])),
            horizon="1d",
            order_value=value,
            vol_window=draw(st.integers(2, 5)),
            max_inventory=draw(st.sampled_from([1.0, 5.0])),
        )
    offsets = draw(st.lists(st.floats(0.5, 400.0), min_size=1, max_size=3, unique=True))
    return ladder(tuple(sorted(offsets)), value)


@st.composite
def venues(draw) -> mmsim.Venue:
    """Fees (rebates included), fill rule and margin rate."""
    return mmsim.Venue(
        maker_fee=draw(st.sampled_from([-0.0001, 0.0, 0.0002, 0.001])),
        taker_fee=draw(st.sampled_from([0.0, 0.0004, 0.001])),
        penetration_ticks=draw(st.integers(0, 2)),
        max_participation=draw(st.sampled_from([None, 0.1, 1.0])),
        market_slippage_bps=draw(st.sampled_from([0.0, 2.0])),
        maintenance_margin_rate=draw(st.sampled_from([0.005, 0.05, 0.2])),
    )


@st.composite
def risks(draw) -> mmsim.RiskRule:
    """No risk rule, or the basic set with thresholds loose to tight (tight ones fire exits)."""
    if draw(st.booleans()):
        return mmsim.chain()
    return mmsim.basic_risk(
        max_leverage=draw(st.sampled_from([None, 1.0, 5.0])),
        max_symbol_leverage=draw(st.sampled_from([None, 0.5, 3.0])),
        min_order_value=draw(st.sampled_from([0.0, 10.0])),
        emergency_drawdown=draw(st.sampled_from([None, 0.01, 0.2])),
        emergency_leverage=draw(st.sampled_from([None, 2.0])),
        stop_equity_fraction=draw(st.sampled_from([None, 0.995, 0.9])),
    )


@st.composite
def runs(draw, *, max_bars: int = 40, max_symbols: int = 3) -> mmsim.Result:
    """A whole backtest Result on a generated market."""
    bars, gaps = draw(markets(max_bars=max_bars, max_symbols=max_symbols))
    symbols = sorted(bars["symbol"].unique().to_list())
    strategies = {s: draw(quoting()) for s in symbols}
    return mmsim.backtest(
        bars,
        strategies,
        risk=draw(risks()),
        venue=draw(venues()),
        initial_cash=draw(st.sampled_from([1_000.0, 20_000.0, 100_000.0])),
        allow_gaps=gaps,
    )

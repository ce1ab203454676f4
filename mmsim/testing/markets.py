"""Hypothesis strategies for markets, venues, strategies and risk rules (needs `mmsim[testing]`).

Generated bars are valid by construction (open = previous close, high >= max(open, close),
low <= min(open, close), prices > 0), so every example exercises the engine, not the validator.
"""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
from hypothesis import strategies as st

import mmsim
from mmsim.orders import Quotes
from mmsim.strategies.base import Strategy, stateless

START = dt.datetime(2024, 1, 1)


@st.composite
def bars_frames(
    draw,
    symbols: tuple[str, ...] = ("AAAUSDT", "BBBUSDT"),
    min_bars: int = 2,
    max_bars: int = 40,
    max_move: float = 0.05,
    funding: bool = True,
) -> pl.DataFrame:
    """A long bars frame for `symbols` on one 1-minute grid, with moves up to `max_move` per bar."""
    n = draw(st.integers(min_bars, max_bars))
    frames = []
    for symbol in symbols:
        price = 10 ** draw(st.floats(-1, 5))
        moves = draw(st.lists(st.floats(-max_move, max_move), min_size=n, max_size=n))
        wicks = draw(st.lists(st.tuples(st.floats(0, 0.02), st.floats(0, 0.02)), min_size=n, max_size=n))
        volumes = draw(st.lists(st.floats(0, 1e4), min_size=n, max_size=n))
        rates = draw(
            st.lists(st.sampled_from([0.0, 0.0, 0.0, 0.0001, -0.0002, 0.003]), min_size=n, max_size=n)
        )
        rows = []
        for k in range(n):
            open_ = price
            close = price * math.exp(moves[k])
            high = max(open_, close) * (1 + wicks[k][0])
            low = min(open_, close) * (1 - wicks[k][1])
            rows.append((START + dt.timedelta(minutes=k), symbol, open_, high, low, close, volumes[k], rates[k]))
            price = close
        frames.append(rows)
    schema = ["ts", "symbol", "open", "high", "low", "close", "volume", "funding_rate"]
    frame = pl.DataFrame([r for rows in frames for r in rows], schema=schema, orient="row")
    frame = frame.with_columns(pl.col("ts").cast(pl.Datetime("us")))
    return frame if funding else frame.drop("funding_rate")


def venues() -> st.SearchStrategy[mmsim.Venue]:
    """Venues with fees (incl. maker rebates), fill rules, slippage and margin rates."""
    return st.builds(
        mmsim.Venue,
        maker_fee=st.sampled_from([0.0, 0.0002, -0.0001, 0.001]),
        taker_fee=st.sampled_from([0.0, 0.0005, 0.001]),
        penetration_ticks=st.integers(0, 2),
        max_participation=st.one_of(st.none(), st.floats(0.01, 1.0)),
        market_slippage_bps=st.sampled_from([0.0, 2.0, 25.0]),
        maintenance_margin_rate=st.sampled_from([0.005, 0.05, 0.2]),
    )


def ladder(*, levels: int, spacing_bps: float, order_value: float, skew_bps: float) -> Strategy:
    """A test strategy: `levels` quotes per side every `spacing_bps`, skewed against inventory."""

    def quote(inputs):
        close = inputs.bar.close
        q = inputs.position * close / order_value
        center = close * (1 - skew_bps * q / 1e4)
        qty = order_value / close
        bids = tuple((center * (1 - (k + 1) * spacing_bps / 1e4), qty) for k in range(levels))
        asks = tuple((center * (1 + (k + 1) * spacing_bps / 1e4), qty) for k in range(levels))
        return Quotes(tuple(b for b in bids if b[0] > 0), asks, center)

    return stateless("ladder", quote)


def market_makers() -> st.SearchStrategy[Strategy]:
    """The built-in market makers and a multi-level test ladder with drawn parameters."""
    value = st.floats(50, 50_000)
    return st.one_of(
        st.builds(mmsim.fixed_spread, half_spread_bps=st.floats(0.5, 200), order_value=value),
        st.builds(
            mmsim.avellaneda_stoikov,
            gamma=st.floats(1e-5, 0.1),
            kappa=st.floats(0.01, 5),
            horizon=st.sampled_from(["10m", "1h", "1d"]),
            order_value=value,
            vol_window=st.integers(2, 10),
        ),
        st.builds(
            ladder,
            levels=st.integers(1, 4),
            spacing_bps=st.floats(1, 300),
            order_value=value,
            skew_bps=st.floats(0, 50),
        ),
    )


def risk_rules() -> st.SearchStrategy[mmsim.RiskRule]:
    """basic_risk with every combination of caps, thresholds and stops (None = rule absent)."""
    return st.builds(
        mmsim.basic_risk,
        max_leverage=st.one_of(st.none(), st.floats(0.5, 50)),
        max_symbol_leverage=st.one_of(st.none(), st.floats(0.2, 30)),
        min_order_value=st.sampled_from([0.0, 10.0, 500.0]),
        emergency_leverage=st.one_of(st.none(), st.floats(1, 40)),
        emergency_drawdown=st.one_of(st.none(), st.floats(0.01, 0.5)),
        stop_equity_fraction=st.one_of(st.none(), st.floats(0.3, 0.99)),
    )

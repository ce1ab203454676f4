"""Shared builders for strategy tests: a StrategyInput at a known state, and Hypothesis draws of
states that carry every feature a strategy reads."""

from __future__ import annotations

from hypothesis import strategies as st

from mmsim.bars import Bar
from mmsim.orders import Quotes
from mmsim.strategies import Strategy, StrategyInput
from mmsim.venue import infer_tick_size, round_price

MINUTE_US = 60_000_000
HOUR_US = 60 * MINUTE_US


def make_input(
    close: float = 100.0,
    *,
    position: float = 0.0,
    entry_price: float | None = None,
    features: dict | None = None,
    ts: int = 0,
    interval_us: int = MINUTE_US,
    equity: float = 100_000.0,
    symbol: str = "TESTUSDT",
) -> StrategyInput:
    """A bar closing at `close` (open = high = low = close) with the given features and position."""
    bar = Bar(symbol, ts, close, close, close, close, 1_000.0, 0.0, dict(features or {}))
    if entry_price is None:
        entry_price = close if position else 0.0
    return StrategyInput(bar, position, entry_price, equity, interval_us)


def quote(strategy: Strategy, inputs: StrategyInput, state=None) -> Quotes:
    """The quotes of one update from the strategy's initial state (or `state`)."""
    _, quotes = strategy.update(strategy.init() if state is None else state, inputs)
    return quotes


def best(quotes: Quotes) -> tuple[float | None, float | None]:
    return (
        quotes.bids[0][0] if quotes.bids else None,
        quotes.asks[0][0] if quotes.asks else None,
    )


def rounded_best(quotes: Quotes, close: float) -> tuple[float | None, float | None]:
    """Best bid rounded down and best ask rounded up to the tick inferred from the close."""
    tick = infer_tick_size(close)
    bid, ask = best(quotes)
    return (
        None if bid is None else round_price(bid, tick, 1),
        None if ask is None else round_price(ask, tick, -1),
    )


closes = st.floats(min_value=0.01, max_value=200_000.0, allow_nan=False, allow_infinity=False)


@st.composite
def feature_values(draw, strategy: Strategy, close: float) -> dict:
    """A plausible value for each feature the strategy reads, by the feature's name."""
    values = {}
    for f in strategy.features:
        name = f.name
        if name.startswith("volatility_"):
            values[name] = draw(st.floats(1e-5, 0.02))
        elif name.startswith("sma_close_"):
            values[name] = close * (1 + draw(st.floats(-0.02, 0.02)))
        elif name.startswith("log_return_"):
            values[name] = draw(st.floats(-0.05, 0.05))
        elif name.startswith("volume_value_"):
            values[name] = draw(st.floats(1.0, 1e7))
        elif name.startswith("flow_imbalance_"):
            values[name] = draw(st.floats(-1.0, 1.0))
        elif name.startswith("fill_A_"):
            values[name] = draw(st.floats(0.05, 5.0))
        elif name.startswith("fill_kappa_"):
            values[name] = draw(st.floats(0.01, 2.0))
        else:
            raise AssertionError(f"no test values for feature {name!r}")
    return values


@st.composite
def states(draw, strategy: Strategy, max_position_value: float = 50_000.0) -> StrategyInput:
    """A bar close, position (value within ±max_position_value USDT) and the features it reads."""
    close = draw(closes)
    position_value = draw(st.floats(-max_position_value, max_position_value))
    entry = close * (1 + draw(st.floats(-0.05, 0.05)))
    ts = draw(st.integers(0, 10_000)) * MINUTE_US
    return make_input(
        close,
        position=position_value / close,
        entry_price=entry,
        features=draw(feature_values(strategy, close)),
        ts=ts,
    )

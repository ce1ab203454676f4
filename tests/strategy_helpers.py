"""Shared builders for strategy tests: a StrategyInput at a known state and the best quotes;
Hypothesis draws of states (`states`) are mmsim.testing's `strategy_inputs`."""

from __future__ import annotations

from mmsim.core.bars import Bar
from mmsim.core.orders import Quotes
from mmsim.core.venue import infer_tick_size, round_price
from mmsim.strategies import Strategy, StrategyInput
from mmsim.testing.markets import strategy_inputs as states  # noqa: F401  (re-exported)

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

"""Runs of the engine step by step, for checks that need more than a Result's frames.

`engine_setup` returns the `RunSetup` `mmsim.backtest` folds (validated frame, features, tick and
lot sizes, the composed step, the initial state); `engine_run` keeps every state of the fold;
`quote_trace` records every strategy call (its state, its input and the quotes it returned),
so strategy properties can replay a call with another position, a second time, or on a
truncated market. Both come from `mmsim.core.setup.prepare_run`, as the backtest's own run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import polars as pl

from mmsim.core.bars import Bar, Step, bar_interval_us, missing_bars
from mmsim.core.engine import EngineState, account_bar
from mmsim.core.matching import match_bar
from mmsim.core.orders import Fill, Quotes
from mmsim.core.risk import NO_RISK, RiskRule
from mmsim.core.setup import RunSetup, prepare_run, resolve_strategies
from mmsim.core.venue import Venue
from mmsim.strategies.base import Strategy, StrategyInput


def has_gaps(bars: pl.DataFrame) -> bool:
    """True when some symbol lacks a bar at a timestamp another symbol has, or misses bars
    inside its own history (a hole in time, even one every symbol shares)."""
    counts = bars.group_by("symbol", maintain_order=True).agg(pl.col("ts").n_unique())["ts"]
    if (counts < bars["ts"].n_unique()).any():
        return True
    frame = bars.select("symbol", "ts").sort("symbol", "ts")
    return missing_bars(frame, bar_interval_us(frame)).height > 0


def engine_setup(
    bars: pl.DataFrame,
    strategies: Strategy | Mapping[str, Strategy],
    *,
    risk: RiskRule = NO_RISK,
    venue: Venue | None = None,
    initial_cash: float = 100_000.0,
    allow_gaps: bool | None = None,
    matching=match_bar,
    accounting=account_bar,
    interval_us: int | None = None,
) -> RunSetup:
    """What `mmsim.backtest` folds: `mmsim.core.setup.prepare_run` with gaps allowed when present.

    allow_gaps=None allows them when the frame has gaps (generated gapping markets do);
    interval_us overrides the bar length inferred from the frame (a truncated market keeps
    the length of the whole one).
    """
    if allow_gaps is None:
        allow_gaps = has_gaps(bars)
    return prepare_run(
        bars,
        strategies,
        risk=risk,
        venue=venue,
        initial_cash=initial_cash,
        allow_gaps=allow_gaps,
        matching=matching,
        accounting=accounting,
        interval_us=interval_us,
    )


@attrs.frozen(slots=True)
class EngineRun:
    """Every state of a fold: states[k] is the state after step k (states[-1] before step 0)."""

    setup: RunSetup
    steps: tuple[Step, ...] = attrs.field(eq=False, repr=False)
    states: tuple[EngineState, ...]
    fills: tuple[tuple[Fill, ...], ...]


def engine_run(bars: pl.DataFrame, strategies, **kwargs) -> EngineRun:
    """Fold the step over the bars keeping every state (kwargs as `engine_setup`)."""
    setup = engine_setup(bars, strategies, **kwargs)
    steps = tuple(setup.steps())
    state, states, fills = setup.state0, [], []
    for bars_t in steps:
        state, filled = setup.step(state, bars_t)
        states.append(state)
        fills.append(filled)
    return EngineRun(setup, steps, tuple(states), tuple(fills))


@attrs.frozen(slots=True)
class QuoteCall:
    """One strategy call: at step k, for symbol i, `update(state, inputs) -> (state, quotes)`."""

    k: int
    symbol: str
    strategy: Strategy = attrs.field(eq=False, repr=False)
    state: Any = attrs.field(repr=False)
    inputs: StrategyInput = attrs.field(repr=False)
    new_state: Any = attrs.field(repr=False)
    quotes: Quotes

    @property
    def bar(self) -> Bar:
        return self.inputs.bar

    @property
    def ts(self) -> int:
        return self.inputs.bar.ts


def _recording(strategy: Strategy, calls: list, k_of: dict) -> Strategy:
    # the test harness's impure edge: the wrapped update appends each call to `calls`
    def update(state, inputs):
        new_state, quotes = strategy.update(state, inputs)
        calls.append(
            QuoteCall(
                k_of[inputs.bar.ts], inputs.bar.symbol, strategy, state, inputs, new_state, quotes
            )
        )
        return new_state, quotes

    return attrs.evolve(strategy, update=update)


def quote_trace(bars: pl.DataFrame, strategies, **kwargs) -> tuple[QuoteCall, ...]:
    """Every strategy call of a run, in order (kwargs as `engine_setup`)."""
    symbols = tuple(sorted(bars["symbol"].cast(pl.String).unique().to_list()))
    calls: list[QuoteCall] = []
    k_of: dict[int, int] = {}
    wrapped = {
        s: _recording(st, calls, k_of)
        for s, st in zip(symbols, resolve_strategies(strategies, symbols))
    }
    setup = engine_setup(bars, wrapped, **kwargs)
    steps = tuple(setup.steps())
    k_of.update((s.ts, k) for k, s in enumerate(steps))
    state = setup.state0
    for bars_t in steps:
        state, _ = setup.step(state, bars_t)
    return tuple(calls)

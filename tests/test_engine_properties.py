"""Properties of whole runs over generated markets, venues, strategies and risk rules (the
generators, the invariant checks and the step-by-step runs are mmsim.testing's)."""

from __future__ import annotations

import copy
import math

import polars as pl
import pytest
from conftest import scaled
from hypothesis import given, settings
from hypothesis import strategies as st
from toolz import accumulate

import mmsim
from mmsim.core.bars import validate_bars
from mmsim.core.orders import Quotes
from mmsim.core.risk import NO_RISK
from mmsim.core.specs import symbol_specs, with_specs
from mmsim.testing import (
    REGIMES,
    check_every_order_fills,
    check_invariants,
    check_leverage_caps,
    engine_setup,
    has_gaps,
)
from mmsim.testing.markets import bars_frames, cash, market_makers, risk_rules, venues


@settings(max_examples=scaled(1000))
@given(
    bars=bars_frames(regimes=REGIMES),
    strategy=market_makers(),
    risk=risk_rules(),
    initial_cash=cash(),
    data=st.data(),
)
def test_every_run_keeps_the_ledger_invariants(bars, strategy, risk, initial_cash, data):
    """Equity identity, fees, positions, liquidation, halts, fill prices under the fill rule,
    participation, marks, missing bars, placement grids and funding: for any market (gaps
    included), strategy, risk rule and venue (tick and lot sizes included)."""
    venue = data.draw(venues(bars=bars), label="venue")
    result = mmsim.backtest(
        bars, strategy, risk=risk, venue=venue, initial_cash=initial_cash, allow_gaps=has_gaps(bars)
    )
    assert check_invariants(result, bars) == []
    final = result.equity.row(-1, named=True)
    # equity_T = initial + trading PnL - fees + funding, per symbol summing to the total
    parts = result.summary.filter(pl.col("symbol") != "TOTAL")["pnl"].sum()
    assert math.isclose(
        final["equity"] - initial_cash, parts, rel_tol=1e-9, abs_tol=1e-6 * initial_cash
    )


@settings(max_examples=scaled(100))
@given(
    bars=bars_frames(regimes=REGIMES, max_bars=30),
    strategy=market_makers(),
    risk=risk_rules(),
    initial_cash=cash(),
    data=st.data(),
)
def test_every_order_whose_bar_reached_it_fills_inner_levels_included(
    bars, strategy, risk, initial_cash, data
):
    """The converse of the fill rule, step by step for every resting order (the frames keep
    only the best quotes): any market, strategy, risk rule and venue."""
    venue = data.draw(venues(bars=bars), label="venue")
    options = {"venue": venue, "risk": risk, "initial_cash": initial_cash}
    assert check_every_order_fills(bars, strategy, allow_gaps=has_gaps(bars), **options) == []


def _fold(bars, strategy, risk, venue, initial_cash):
    setup = engine_setup(bars, strategy, risk=risk, venue=venue, initial_cash=initial_cash)
    return setup.step, setup.state0, list(setup.steps())


@settings(max_examples=scaled(500))
@given(
    bars=bars_frames(max_bars=25),
    strategy=market_makers(),
    max_leverage=st.floats(0.2, 10),
    max_symbol_leverage=st.floats(0.1, 8),
    venue=venues(),
    initial_cash=cash(),
)
def test_leverage_caps_hold_at_placement(
    bars, strategy, max_leverage, max_symbol_leverage, venue, initial_cash
):
    """After the risk stage, if every order of a side filled at its price, no symbol's notional
    would exceed max_symbol_leverage x equity and their sum would not exceed max_leverage x equity
    (or the exposure already held, when prices moved it above the cap: orders never add to it)."""
    assert (
        check_leverage_caps(
            bars,
            strategy,
            max_leverage=max_leverage,
            max_symbol_leverage=max_symbol_leverage,
            venue=venue,
            initial_cash=initial_cash,
        )
        == []
    )


@settings(max_examples=scaled(200))
@given(
    bars=bars_frames(min_bars=6, max_bars=30),
    strategy=market_makers(),
    risk=risk_rules(),
    venue=venues(),
    cut=st.integers(2, 5),
    data=st.data(),
)
def test_no_look_ahead(bars, strategy, risk, venue, cut, data):
    """Changing the bars after bar t changes nothing in the run up to bar t."""
    ts = sorted(bars["ts"].unique().to_list())
    t_cut = ts[cut]
    later = bars.filter(pl.col("ts") > t_cut)
    factor = data.draw(st.floats(0.5, 2.0), label="later price factor")
    changed = pl.concat(
        [
            bars.filter(pl.col("ts") <= t_cut),
            later.with_columns(
                pl.col("open", "high", "low", "close") * factor, pl.col("volume") * 3
            ),
        ]
    )
    # the first later bar must still open at the previous close for the frame to stay a market
    # the tick and lot read from the data are the venue's static grid, read from the whole
    # frame like the bar interval: both runs trade on the first frame's
    venue = with_specs(venue, symbol_specs(validate_bars(bars, allow_gaps=True), venue))
    a = mmsim.backtest(bars, strategy, risk=risk, venue=venue, initial_cash=50_000.0)
    b = mmsim.backtest(changed, strategy, risk=risk, venue=venue, initial_cash=50_000.0)
    upto = pl.col("ts") <= t_cut
    assert a.equity.filter(upto).equals(b.equity.filter(upto))
    assert a.symbols.filter(upto).equals(b.symbols.filter(upto))
    assert a.fills.filter(upto).equals(b.fills.filter(upto))


@settings(max_examples=scaled(100))
@given(bars=bars_frames(), strategy=market_makers(), risk=risk_rules(), venue=venues())
def test_runs_are_deterministic(bars, strategy, risk, venue):
    """The same inputs give identical frames."""
    a = mmsim.backtest(bars, strategy, risk=risk, venue=venue)
    b = mmsim.backtest(bars, strategy, risk=risk, venue=venue)
    for name in ("fills", "equity", "symbols", "rejections", "events", "summary"):
        assert getattr(a, name).equals(getattr(b, name)), name


@settings(max_examples=scaled(100))
@given(bars=bars_frames(max_bars=15), strategy=market_makers(), risk=risk_rules(), venue=venues())
def test_a_step_never_changes_its_input_state(bars, strategy, risk, venue):
    """step(state, bars) leaves `state` equal to a deep copy taken before the call."""
    _assert_steps_keep_their_input(*_fold(bars, strategy, risk, venue, 10_000.0))


def _assert_steps_keep_their_input(step, state, steps):
    for bars_t in steps:
        before = copy.deepcopy(state)  # a deep copy: a list inside a state is copied too
        new_state, _ = step(state, bars_t)
        assert state == before, "step changed the state it was given"
        state = new_state


def test_a_strategy_that_appends_to_a_list_in_its_state_is_caught():
    """The check above must fail on a strategy that mutates its own state in place."""

    def update(closes, inputs):
        closes.append(inputs.bar.close)  # mutates the state it was given
        return closes, Quotes(((inputs.bar.close * 0.99, 0.01),), ())

    appending = mmsim.Strategy("appending", list, update)
    bars = mmsim.synthetic_bars(("AAAUSDT",), days=0.005, seed=2)
    with pytest.raises(AssertionError, match="step changed the state"):
        _assert_steps_keep_their_input(*_fold(bars, appending, NO_RISK, mmsim.Venue(), 1e4))


@settings(max_examples=scaled(100))
@given(bars=bars_frames(max_bars=15), strategy=market_makers(), risk=risk_rules(), venue=venues())
def test_backtest_is_the_fold_of_step(bars, strategy, risk, venue):
    """backtest() equals folding make_step by hand with toolz.accumulate: same fills and account."""
    step, state0, steps = _fold(bars, strategy, risk, venue, 100_000.0)
    path = list(accumulate(lambda acc, b: step(acc[0], b), steps, (state0, ())))
    fills = [f for _, fs in path[1:] for f in fs]
    result = mmsim.backtest(bars, strategy, risk=risk, venue=venue, initial_cash=100_000.0)
    assert len(fills) == result.fills.height
    assert [f.price for f in fills] == result.fills["price"].to_list()
    assert math.isclose(
        path[-1][0].account.equity, result.final_equity, rel_tol=1e-12, abs_tol=1e-9
    )

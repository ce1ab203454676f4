"""The typed contract of the step: its state, its output beside the fills, the stages' shapes."""

from __future__ import annotations

import math
import random
import types

import attrs
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mmsim
import mmsim.core.bars as bars_module
from mmsim.core import account, engine, intensity, matching, placement, risk, trade_matching
from mmsim.core.engine import EngineState, EngineStep, StepOutput
from mmsim.core.intensity import IntensityFills, intensity_matching
from mmsim.core.matching import PerSymbolMatching, fill_limit_orders, match_bar
from mmsim.core.risk import RiskDecision, RiskInput, RiskRule, chain
from mmsim.core.venue import _decimals, on_grid
from mmsim.testing import engine_run
from mmsim.testing.trace import engine_setup

BARS = mmsim.synthetic_bars(("AAAUSDT", "BBBUSDT"), days=0.2, seed=5)
MM = mmsim.fixed_spread(half_spread_bps=2.0, order_value=2_000.0)
RISK = mmsim.basic_risk(max_leverage=2.0, emergency_drawdown=0.05, stop_equity_fraction=0.5)


def test_engine_state_holds_only_what_the_next_step_reads():
    """The state carries no per-step records: quotes, rejections and events are step output."""
    names = {a.name for a in attrs.fields(EngineState)}
    assert names == {
        "account",
        "strategy_states",
        "risk_state",
        "resting",
        "market_orders",
        "halted",
        "ts",
    }
    assert {a.name for a in attrs.fields(StepOutput)} == {"fills", "quotes", "rejected", "events"}


def test_step_is_update_with_the_fills_alone():
    """step(state, bars) returns update's state and its output's fills, bar after bar."""
    setup = engine_setup(BARS, MM, risk=RISK)
    step = setup.step
    assert isinstance(step, EngineStep)
    state = setup.state0
    for bars in setup.steps():
        by_call, fills = step(state, bars)
        by_update, out = step.update(state, bars)
        assert isinstance(out, StepOutput)
        assert by_call == by_update and fills == out.fills
        assert len(out.quotes) == len(setup.symbols)
        state = by_update


def test_the_records_hold_the_floats_the_fold_saw():
    """Each bar's equity, unrealized, notional and totals in the frames equal the Account's."""
    run = engine_run(BARS, MM, risk=RISK)
    result = mmsim.backtest(BARS, MM, risk=RISK, engine="reference")
    accounts = [s.account for s in run.states]
    eq = result.equity
    assert eq["equity"].to_list() == [a.equity for a in accounts]
    assert eq["unrealized"].to_list() == [a.unrealized for a in accounts]
    assert eq["notional"].to_list() == [a.gross_notional for a in accounts]
    assert eq["fees"].to_list() == [a.fees_paid for a in accounts]
    assert eq["leverage"].to_list() == [a.leverage() for a in accounts]
    sym = result.symbols
    assert sym["unrealized"].to_list() == [
        p.unrealized(m) for a in accounts for p, m in zip(a.positions, a.marks)
    ]
    assert sym["notional"].to_list() == [
        a.notional(i) for a in accounts for i in range(len(a.symbols))
    ]


def test_steps_are_the_same_whatever_the_chunk_of_rows(monkeypatch):
    """Rows turned into bars a few at a time give the same steps as all at once."""
    gappy = BARS.filter((pl.col("symbol") == "AAAUSDT") | (pl.int_range(pl.len()) % 3 != 0))
    setup = engine_setup(gappy, MM, allow_gaps=True)
    whole = list(bars_module.iter_steps(setup.frame, setup.symbols, ()))
    monkeypatch.setattr(bars_module, "STEP_CHUNK_ROWS", 5)
    assert list(bars_module.iter_steps(setup.frame, setup.symbols, ())) == whole
    assert any(None in s.bars for s in whole)


def test_chain_hands_every_rule_the_equity_computed_once():
    """Each rule of a chain sees the account's equity and gross notional, as given once."""
    seen = []

    def spy(inputs):
        seen.append((inputs.equity, inputs.gross_notional, inputs.account.equity))
        return RiskDecision(inputs.orders[1:])

    rule = chain(*(risk.stateless_rule(f"spy{k}", spy) for k in range(3)))
    run = engine_run(BARS, MM, risk=chain(RISK, rule))
    assert seen and len(seen) % 3 == 0
    assert all(e == a for e, _, a in seen)
    assert run.states[-1].ts is not None
    given_ = RiskInput(0, (), run.states[-1].account, 1.0, mmsim.Venue(), {}, equity=7.0)
    assert given_.with_orders(given_.orders) is given_
    other = given_.with_orders(tuple(run.states[10].resting))
    assert (other.equity, other.gross_notional) == (7.0, given_.gross_notional)


def _function_attributes(module: types.ModuleType) -> list[str]:
    return [
        f"{module.__name__}.{name}: {sorted(vars(value))}"
        for name, value in vars(module).items()
        if isinstance(value, types.FunctionType) and vars(value)
    ]


def test_no_stage_is_a_function_with_attributes_set_on_it():
    """Matching stages are frozen callables with their settings as fields, not decorated
    functions; no module-level function of the core carries attributes."""
    assert isinstance(match_bar, PerSymbolMatching) and match_bar.fill_limits is fill_limit_orders
    match = intensity_matching(A=1.0, kappa=0.5)
    assert isinstance(match, PerSymbolMatching) and isinstance(match.fill_limits, IntensityFills)
    assert match.params is match.fill_limits.params
    assert match == intensity_matching(A=1.0, kappa=0.5)
    assert match != intensity_matching(A=2.0, kappa=0.5)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        match.params = None
    modules = (account, engine, intensity, matching, placement, risk, trade_matching)
    assert [bad for m in modules for bad in _function_attributes(m)] == []


def test_a_user_matching_function_still_runs_the_step():
    """A plain function with the six positional arguments of `Matching` is a matching stage."""
    calls = []

    def mine(resting, market_orders, bars, symbols, specs, venue):
        calls.append(len(resting))
        return match_bar(resting, market_orders, bars, symbols, specs, venue)

    ours = mmsim.backtest(BARS, MM, risk=RISK, engine="reference")
    theirs = mmsim.backtest(BARS, MM, risk=RISK, matching=mine)
    assert theirs.fills.equals(ours.fills) and calls
    assert theirs.config["engine"]["name"] == "reference"
    assert isinstance(RISK, RiskRule)


@settings(max_examples=300)
@given(
    step=st.sampled_from([0.01, 0.1, 0.5, 1e-5, 0.001, 5e-5, 1.0, 10.0, 0.25, 1e-8, 2.0**-14]),
    n=st.one_of(st.integers(-(10**7), 10**7), st.integers(-(10**13), 10**13)),
)
def test_on_grid_is_the_decimal_rounding_of_n_steps(step, n):
    """on_grid(n, step) is round(n * step, decimals of step): the float nearest n steps."""
    d = _decimals(step)
    assert on_grid(n, step) == round(n * step, d)


def test_on_grid_on_random_counts_matches_decimal_rounding():
    """The same, on many counts of the grids of real symbols (BTC ticks, small-coin lots)."""
    rng = random.Random(7)
    for step in (0.01, 0.1, 1e-5, 0.001, 1e-4, 1.0):
        d = _decimals(step)
        for _ in range(20_000):
            n = rng.randint(-(10**9), 10**9)
            assert on_grid(n, step) == round(n * step, d), (n, step)
    assert math.isclose(on_grid(3, 0.1), 0.3) and on_grid(3, 0.1) == 0.3


def test_a_chain_of_rules_that_only_keep_orders_decides_as_its_last_rule():
    """A chain whose rules reject, send and report nothing returns the last rule's verdict;
    a rule answering with lists still gives a verdict of tuples the engine can extend."""
    run = engine_run(BARS, MM)
    inputs = RiskInput(
        0, tuple(run.states[5].resting), run.states[5].account, 1e5, mmsim.Venue(), {}
    )
    keep = risk.stateless_rule("keep", lambda i: RiskDecision(i.orders))
    lists = risk.stateless_rule("lists", lambda i: RiskDecision(i.orders, [], [], None, []))
    _, verdict = chain(keep, keep).update((None, None), inputs)
    assert verdict == RiskDecision(inputs.orders)
    _, verdict = chain(keep, lists).update((None, None), inputs)
    assert verdict == RiskDecision(inputs.orders) and verdict.rejected == ()
    assert type(verdict.rejected) is tuple and type(verdict.events) is tuple
    assert mmsim.backtest(BARS, MM, risk=chain(keep, lists)).fills.equals(
        mmsim.backtest(BARS, MM, engine="reference").fills
    )
